package dev.quantspec.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernel of {@link Q4Matrix#matMul}. Only loaded when
 * {@link dev.quantspec.tensor.Simd#enabled()}: without the incubator module this class fails to link.
 *
 * <p>Unpacking: {@code L} ints loaded at once hold {@code 8L} codes ({@code 4L} bytes, a "block").
 * Because of the {@link NibblePlane} layout, nibble {@code k} of int {@code j} is element
 * {@code 8j + k} of the block, so {@code (w >>> 4k) & 0xF} gives, in one shift and one mask, the
 * codes of elements {@code k, 8+k, 16+k, ...}. Instead of shuffling the codes back into order, the
 * input is permuted once per position to match ({@link #permute}); the cost is {@code cols} copies
 * per position against {@code rows * cols} multiply-adds.
 *
 * <p>Determinism: every operation per lane is exact-rounded (fma, int-to-float of a small integer),
 * and the final lane sum is an explicit sequential loop rather than {@code reduceLanes}, whose order
 * the Vector API leaves open, so the interpreter and the JIT give the same bits and
 * {@code out[t][r]} never depends on {@code n}.
 */
final class Q4SimdKernel {
    /**
     * The preferred (widest) shape. Measured on 1152x512, group 128: 512-bit and 256-bit vectors
     * ran equally fast on a Xeon and 512-bit ones faster on an EPYC; a variant that chained
     * 512/256/128-bit blocks to vectorize smaller groups ran 4x slower (the JIT gave up on the
     * larger method), so groups shorter than one block use {@link ScalarQ4}.
     * {@code -Dquantspec.q4.bits=256} narrows it for experiments.
     */
    private static final VectorShape SHAPE = pickShape();
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(SHAPE);
    private static final int L = F.length();
    /** Codes per block: 8 nibbles in each of the L int lanes. */
    private static final int BLOCK = 8 * L;

    private Q4SimdKernel() {}

    private static VectorShape pickShape() {
        int bits = Integer.getInteger("quantspec.q4.bits", Integer.MAX_VALUE);
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        return VectorShape.forBitSize(Math.max(128, Math.min(bits, preferred)));
    }

    /** Codes per vector block; groups shorter than this gain nothing from this kernel. */
    static int blockSize() {
        return BLOCK;
    }

    static void matMul(Q4Matrix m, float[] x, int xOff, int xStride, int n,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        int cols = m.cols();
        int groups = m.groupsPerRow();
        float[] xp = new float[n * cols];     // [n][cols]: x with each full block permuted to the code order
        float[] sums = new float[n * groups]; // [n][groupsPerRow]: sum of x over each group
        for (int t = 0; t < n; t++) {
            permute(x, xOff + t * xStride, cols, m.groupSize(), xp, t * cols);
            ScalarQ4.groupSums(x, xOff + t * xStride, cols, m.groupSize(), sums, t * groups);
        }
        byte[] codes = m.codes().bytes();
        float[] params = m.groupParams();
        float[] lanes = new float[L];         // [L]: the accumulator, summed sequentially
        for (int r = rowStart; r < rowEnd; r++) {
            for (int t = 0; t < n; t++) {
                out[outOff + t * outStride + r] = dotRow(m, codes, params, r, xp, t * cols, sums, t * groups, lanes);
            }
        }
    }

    /**
     * Copies one position of x into {@code dst}: inside every full block of every group, element
     * {@code 8j + k} goes to {@code k*L + j}; the rest of each group (its tail) is copied unchanged.
     */
    static void permute(float[] x, int xOff, int cols, int groupSize, float[] dst, int dstOff) {
        for (int start = 0; start < cols; start += groupSize) {
            int len = Math.min(groupSize, cols - start);
            int blocked = len - len % BLOCK;
            for (int base = start; base < start + blocked; base += BLOCK) {
                for (int j = 0; j < L; j++) {
                    for (int k = 0; k < 8; k++) {
                        dst[dstOff + base + k * L + j] = x[xOff + base + 8 * j + k];
                    }
                }
            }
            System.arraycopy(x, xOff + start + blocked, dst, dstOff + start + blocked, len - blocked);
        }
    }

    private static float dotRow(Q4Matrix m, byte[] codes, float[] params, int r,
                                float[] xp, int xpOff, float[] sums, int sumsOff, float[] lanes) {
        int cols = m.cols();
        int groupSize = m.groupSize();
        int groups = m.groupsPerRow();
        int rowByte = r * m.rowBytes();
        int p = 2 * r * groups;
        FloatVector acc = FloatVector.zero(F); // sum over groups of scale_g * (lane-wise dot of the blocks)
        float tail = 0f;                       // sum over groups of scale_g * (dot of the codes after the last block)
        float minTerm = 0f;                    // sum over groups of min_g * sum(x_g)
        for (int g = 0; g < groups; g++) {
            float scale = params[p + 2 * g];
            int start = g * groupSize;
            int end = Math.min(start + groupSize, cols);
            int blockEnd = start + (end - start) / BLOCK * BLOCK;
            FloatVector dot = FloatVector.zero(F);
            for (int c = start; c < blockEnd; c += BLOCK) {
                IntVector w = ByteVector.fromArray(B, codes, rowByte + (c >>> 1)).reinterpretAsInts();
                int xi = xpOff + c;
                dot = nibble(w, 0).fma(FloatVector.fromArray(F, xp, xi), dot);
                dot = nibble(w, 1).fma(FloatVector.fromArray(F, xp, xi + L), dot);
                dot = nibble(w, 2).fma(FloatVector.fromArray(F, xp, xi + 2 * L), dot);
                dot = nibble(w, 3).fma(FloatVector.fromArray(F, xp, xi + 3 * L), dot);
                dot = nibble(w, 4).fma(FloatVector.fromArray(F, xp, xi + 4 * L), dot);
                dot = nibble(w, 5).fma(FloatVector.fromArray(F, xp, xi + 5 * L), dot);
                dot = nibble(w, 6).fma(FloatVector.fromArray(F, xp, xi + 6 * L), dot);
                dot = top(w).fma(FloatVector.fromArray(F, xp, xi + 7 * L), dot);
            }
            acc = dot.fma(FloatVector.broadcast(F, scale), acc);
            if (blockEnd < end) {
                tail += scale * ScalarQ4.codesDot(codes, rowByte, blockEnd, end, xp, xpOff);
            }
            minTerm += params[p + 2 * g + 1] * sums[sumsOff + g];
        }
        acc.intoArray(lanes, 0);
        float sum = 0f;
        for (int j = 0; j < L; j++) {
            sum += lanes[j];
        }
        return sum + tail + minTerm;
    }

    /** Nibble {@code k} (0..6) of every int lane as a float 0..15. */
    private static FloatVector nibble(IntVector w, int k) {
        return (FloatVector) w.lanewise(VectorOperators.LSHR, 4 * k).and(0xF).convert(VectorOperators.I2F, 0);
    }

    /** Nibble 7 of every int lane: the logical shift leaves nothing to mask. */
    private static FloatVector top(IntVector w) {
        return (FloatVector) w.lanewise(VectorOperators.LSHR, 28).convert(VectorOperators.I2F, 0);
    }
}
