package dev.quantspec.kv;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API versions of the {@link AttentionKernels} loops. Only loaded when the Vector API is
 * on. Accumulators stay in registers across tokens (channel chunks outside, tokens inside), which
 * is what makes attention over long contexts fast.
 */
final class SimdAttention {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** L bytes hold the codes of 2L channels; widened to L int lanes. */
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 4));
    private static final int L = F.length();

    private SimdAttention() {}

    /** Code loops need whole chunks of 2L channels. */
    static boolean fits(int channels) {
        return channels % (2 * L) == 0 && B.length() == L;
    }

    static boolean fitsRows(int hd) {
        return hd % L == 0;
    }

    static void weightedSum(float[] w, int wOff, float[] values, int vOff, int stride, int n, int hd,
                            float[] out, int outOff) {
        for (int c = 0; c < hd; c += L) {
            FloatVector acc = FloatVector.fromArray(F, out, outOff + c);
            for (int t = 0; t < n; t++) {
                acc = FloatVector.fromArray(F, values, vOff + t * stride + c).fma(FloatVector.broadcast(F, w[wOff + t]), acc);
            }
            acc.intoArray(out, outOff + c);
        }
    }

    static float codeScores(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int hd,
                            float[] w, int wEven, int wOdd, float bias, float scale,
                            float[] scores, int sOff, float max) {
        int chunks = hd / (2 * L);
        for (int t = 0; t < n; t++) {
            int b = b0 + t * rowBytes;
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < chunks; j++) {
                IntVector u = widen(upper, b + j * L);
                IntVector c0 = u.and(15);
                IntVector c1 = u.lanewise(VectorOperators.LSHR, 4).and(15);
                if (lower != null) {
                    IntVector l = widen(lower, b + j * L);
                    c0 = c0.lanewise(VectorOperators.LSHL, 4).add(l.and(15)).sub(8);
                    c1 = c1.lanewise(VectorOperators.LSHL, 4).add(l.lanewise(VectorOperators.LSHR, 4).and(15)).sub(8);
                }
                acc = toFloat(c0).fma(FloatVector.fromArray(F, w, wEven + j * L), acc);
                acc = toFloat(c1).fma(FloatVector.fromArray(F, w, wOdd + j * L), acc);
            }
            float s = (acc.reduceLanes(VectorOperators.ADD) + bias) * scale;
            scores[sOff + t] = s;
            max = Math.max(max, s);
        }
        return max;
    }

    static void codeWeightedSum(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int groupChannels,
                                float[] coef, int cOff, int cStride, float[] out, int outEven, int outOdd) {
        int chunks = groupChannels / (2 * L);
        for (int j = 0; j < chunks; j++) {
            FloatVector e = FloatVector.fromArray(F, out, outEven + j * L);
            FloatVector o = FloatVector.fromArray(F, out, outOdd + j * L);
            for (int t = 0; t < n; t++) {
                int b = b0 + t * rowBytes + j * L;
                IntVector u = widen(upper, b);
                IntVector c0 = u.and(15);
                IntVector c1 = u.lanewise(VectorOperators.LSHR, 4).and(15);
                if (lower != null) {
                    IntVector l = widen(lower, b);
                    c0 = c0.lanewise(VectorOperators.LSHL, 4).add(l.and(15)).sub(8);
                    c1 = c1.lanewise(VectorOperators.LSHL, 4).add(l.lanewise(VectorOperators.LSHR, 4).and(15)).sub(8);
                }
                FloatVector a = FloatVector.broadcast(F, coef[cOff + t * cStride]);
                e = toFloat(c0).fma(a, e);
                o = toFloat(c1).fma(a, o);
            }
            e.intoArray(out, outEven + j * L);
            o.intoArray(out, outOdd + j * L);
        }
    }

    /** L packed bytes as L int lanes holding 0..255. */
    private static IntVector widen(byte[] codes, int at) {
        return ((IntVector) ByteVector.fromArray(B, codes, at).convertShape(VectorOperators.B2I, I, 0)).and(0xFF);
    }

    private static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, F, 0);
    }
}
