package dev.quantspec.kv;

import dev.quantspec.tensor.Kernels;
import dev.quantspec.tensor.Simd;

/**
 * The inner loops of attention over one head: scores against keys and weighted sums of values, for
 * fp32 rows and for nibble-packed codes. Dispatches to {@link SimdAttention} when the Vector API is
 * on and the head splits into whole vectors, else runs the scalar reference loops here.
 *
 * <p>Packed codes follow {@link dev.quantspec.quant.NibblePlane}: channel 2i in the low nibble of
 * byte i, channel 2i+1 in the high nibble. Code-space loops take the query (or output) split into
 * even and odd channels so that both nibbles of a byte line up with contiguous lanes.
 */
final class AttentionKernels {
    private static final boolean SIMD = Simd.enabled();

    private AttentionKernels() {}

    /** Whether the SIMD code-space kernels can handle heads of {@code headDim} channels. */
    static boolean simdCodes(int headDim) {
        return SIMD && SimdAttention.fits(headDim);
    }

    /** scores[sOff + t] = dot(q, keys[kOff + t*stride ..]) * scale for t < n; returns the maximum. */
    static float scores(float[] q, int qOff, float[] keys, int kOff, int stride, int n, int hd, float scale,
                        float[] scores, int sOff, float max) {
        for (int t = 0; t < n; t++) {
            float s = Kernels.dot(q, qOff, keys, kOff + t * stride, hd) * scale;
            scores[sOff + t] = s;
            max = Math.max(max, s);
        }
        return max;
    }

    /** out[c] += sum_t w[wOff + t] * values[vOff + t*stride + c] for t < n, c < hd. */
    static void weightedSum(float[] w, int wOff, float[] values, int vOff, int stride, int n, int hd,
                            float[] out, int outOff) {
        if (SIMD && SimdAttention.fitsRows(hd)) {
            SimdAttention.weightedSum(w, wOff, values, vOff, stride, n, hd, out, outOff);
            return;
        }
        for (int t = 0; t < n; t++) {
            Kernels.axpy(w[wOff + t], values, vOff + t * stride, out, outOff, hd);
        }
    }

    /**
     * For n tokens whose codes start at byte {@code b0 + t*rowBytes}: {@code acc_t = sum_c w[c] * code_c}
     * with code = upper nibble (lower == null) or 16*upper + lower - 8; w's even channels start at
     * {@code wEven} and its odd ones at {@code wOdd}. Writes {@code (acc_t + bias) * scale} into scores.
     */
    static float codeScores(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int hd,
                            float[] w, int wEven, int wOdd, float bias, float scale,
                            float[] scores, int sOff, float max) {
        if (simdCodes(hd)) {
            return SimdAttention.codeScores(upper, lower, b0, rowBytes, n, hd, w, wEven, wOdd, bias, scale, scores, sOff, max);
        }
        return scalarCodeScores(upper, lower, b0, rowBytes, n, hd, w, wEven, wOdd, bias, scale, scores, sOff, max);
    }

    /** The scalar reference of {@link #codeScores}. */
    static float scalarCodeScores(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int hd,
                                  float[] w, int wEven, int wOdd, float bias, float scale,
                                  float[] scores, int sOff, float max) {
        int half = hd / 2;
        for (int t = 0; t < n; t++) {
            int b = b0 + t * rowBytes;
            float acc = 0f;
            for (int i = 0; i < half; i++) {
                int u = upper[b + i];
                int c0 = u & 15;
                int c1 = (u >> 4) & 15;
                if (lower != null) {
                    int l = lower[b + i];
                    c0 = (c0 << 4) + (l & 15) - 8;
                    c1 = (c1 << 4) + ((l >> 4) & 15) - 8;
                }
                acc += w[wEven + i] * c0 + w[wOdd + i] * c1;
            }
            float s = (acc + bias) * scale;
            scores[sOff + t] = s;
            max = Math.max(max, s);
        }
        return max;
    }

    /**
     * For channels [0, n2) of one value group (n2 = group size), over n tokens:
     * {@code out[outEven + i] += sum_t coef[t] * code(t, 2i)}, {@code out[outOdd + i] += sum_t coef[t] * code(t, 2i+1)}.
     */
    static void codeWeightedSum(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int groupChannels,
                                float[] coef, int cOff, int cStride, float[] out, int outEven, int outOdd) {
        if (SIMD && SimdAttention.fits(groupChannels)) {
            SimdAttention.codeWeightedSum(upper, lower, b0, rowBytes, n, groupChannels, coef, cOff, cStride, out, outEven, outOdd);
            return;
        }
        scalarCodeWeightedSum(upper, lower, b0, rowBytes, n, groupChannels, coef, cOff, cStride, out, outEven, outOdd);
    }

    /** The scalar reference of {@link #codeWeightedSum}. */
    static void scalarCodeWeightedSum(byte[] upper, byte[] lower, int b0, int rowBytes, int n, int groupChannels,
                                      float[] coef, int cOff, int cStride, float[] out, int outEven, int outOdd) {
        int half = groupChannels / 2;
        for (int t = 0; t < n; t++) {
            int b = b0 + t * rowBytes;
            float a = coef[cOff + t * cStride];
            for (int i = 0; i < half; i++) {
                int u = upper[b + i];
                int c0 = u & 15;
                int c1 = (u >> 4) & 15;
                if (lower != null) {
                    int l = lower[b + i];
                    c0 = (c0 << 4) + (l & 15) - 8;
                    c1 = (c1 << 4) + ((l >> 4) & 15) - 8;
                }
                out[outEven + i] += a * c0;
                out[outOdd + i] += a * c1;
            }
        }
    }
}
