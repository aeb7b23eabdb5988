package dev.quantspec.quant;

/**
 * The scalar reference of {@link Q4Matrix#matMul}: the fallback without the Vector API, and what
 * the SIMD kernel is tested against. Every row's dot product is summed sequentially, group by
 * group, as {@code acc += scale_g * dot(q_g, x_g) + min_g * sum(x_g)}.
 */
final class ScalarQ4 {
    private ScalarQ4() {}

    static void matMul(Q4Matrix m, float[] x, int xOff, int xStride, int n,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        int groups = m.groupsPerRow();
        float[] sums = new float[n * groups]; // [n][groupsPerRow]: sum of x over each group
        for (int t = 0; t < n; t++) {
            groupSums(x, xOff + t * xStride, m.cols(), m.groupSize(), sums, t * groups);
        }
        byte[] codes = m.codes().bytes();
        float[] params = m.groupParams();
        for (int r = rowStart; r < rowEnd; r++) {
            for (int t = 0; t < n; t++) {
                out[outOff + t * outStride + r] = dotRow(m, codes, params, r, x, xOff + t * xStride, sums, t * groups);
            }
        }
    }

    /**
     * {@code dst[dstOff + g] = sum(x[xOff + g*groupSize .. + groupSize))}, summed sequentially; shared
     * by both kernels so that the minimum term is identical in both.
     */
    static void groupSums(float[] x, int xOff, int cols, int groupSize, float[] dst, int dstOff) {
        for (int g = 0, start = 0; start < cols; g++, start += groupSize) {
            int end = Math.min(start + groupSize, cols);
            float s = 0f;
            for (int c = start; c < end; c++) {
                s += x[xOff + c];
            }
            dst[dstOff + g] = s;
        }
    }

    /**
     * {@code sum(code[c] * x[xOff + c])} for {@code c} in {@code [from, to)} of the row starting at
     * {@code codes[rowByte]}, summed sequentially; {@code from} is even (a group or block start).
     */
    static float codesDot(byte[] codes, int rowByte, int from, int to, float[] x, int xOff) {
        float dot = 0f;
        int c = from;
        for (; c + 1 < to; c += 2) {
            int b = codes[rowByte + (c >>> 1)];
            dot += (b & 0xF) * x[xOff + c];
            dot += ((b >>> 4) & 0xF) * x[xOff + c + 1];
        }
        if (c < to) { // an odd-length last group ends on a low nibble
            dot += (codes[rowByte + (c >>> 1)] & 0xF) * x[xOff + c];
        }
        return dot;
    }

    private static float dotRow(Q4Matrix m, byte[] codes, float[] params, int r,
                                float[] x, int xOff, float[] sums, int sumsOff) {
        int cols = m.cols();
        int groupSize = m.groupSize();
        int groups = m.groupsPerRow();
        int rowByte = r * m.rowBytes();
        int p = 2 * r * groups;
        float acc = 0f;
        for (int g = 0; g < groups; g++) {
            int start = g * groupSize;
            int end = Math.min(start + groupSize, cols);
            float dot = codesDot(codes, rowByte, start, end, x, xOff);
            acc += params[p + 2 * g] * dot + params[p + 2 * g + 1] * sums[sumsOff + g];
        }
        return acc;
    }
}
