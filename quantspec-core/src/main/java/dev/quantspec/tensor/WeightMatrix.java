package dev.quantspec.tensor;

/**
 * A read-only row-major weight matrix {@code W[rows][cols]} as stored by one format (bf16, f16,
 * f32, group-wise 4-bit). Each format implements only its hot loops; callers split the row range
 * across threads.
 *
 * <p>Batch invariance: {@code out[t][r]} is computed by the same dot-product code and summation
 * order whatever {@code n} is, so a verify pass over several positions gives bit-identical logits
 * to one-position decoding (QUANTSPEC.md, "Making lossless exact").
 */
public interface WeightMatrix {
    int rows();

    int cols();

    /**
     * For every position {@code t < n} and row {@code r} in {@code [rowStart, rowEnd)}:
     * {@code out[outOff + t*outStride + r] = dot(W[r], x[xOff + t*xStride .. + cols])}.
     */
    void matMul(float[] x, int xOff, int xStride, int n,
                float[] out, int outOff, int outStride, int rowStart, int rowEnd);

    /** Dequantizes row {@code r} into {@code dst[dstOff .. dstOff + cols)} (embedding lookup). */
    void readRow(int r, float[] dst, int dstOff);

    /** Bytes this matrix occupies in its storage format (for memory reports). */
    long byteSize();
}
