package dev.quantspec.tensor;

import java.nio.ByteBuffer;

/**
 * A bf16 matrix read in place from memory-mapped safetensors data; arithmetic is fp32.
 *
 * <p>The rows live in one or more little-endian buffers of {@code rowsPerChunk} rows each, because a
 * single mapping is limited to 2 GiB while real embedding and LM-head tensors can be larger.
 */
public final class Bf16Matrix implements WeightMatrix {
    private final int rows;
    private final int cols;
    private final ByteBuffer[] chunks; // chunk c holds rows [c*rowsPerChunk, ...) as bf16 [rows][cols]
    private final int rowsPerChunk;

    public Bf16Matrix(int rows, int cols, ByteBuffer[] chunks, int rowsPerChunk) {
        this.rows = rows;
        this.cols = cols;
        this.chunks = chunks.clone();
        this.rowsPerChunk = rowsPerChunk;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public void matMul(float[] x, int xOff, int xStride, int n,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            ByteBuffer chunk = chunks[r / rowsPerChunk];
            int rowByte = (r % rowsPerChunk) * cols * 2;
            int t = 0;
            if (Kernels.simd()) {
                // Four positions per pass convert the weight row once; results are identical to
                // the one-position kernel (see SimdKernels.dotBf16x4).
                for (; t + 4 <= n; t += 4) {
                    int xt = xOff + t * xStride;
                    int ot = outOff + t * outStride + r;
                    SimdKernels.dotBf16x4(chunk, rowByte, x, xt, xt + xStride, xt + 2 * xStride, xt + 3 * xStride,
                            cols, out, ot, ot + outStride, ot + 2 * outStride, ot + 3 * outStride);
                }
            }
            for (; t < n; t++) {
                out[outOff + t * outStride + r] = Kernels.dotBf16(chunk, rowByte, x, xOff + t * xStride, cols);
            }
        }
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        ByteBuffer chunk = chunks[r / rowsPerChunk];
        int rowByte = (r % rowsPerChunk) * cols * 2;
        for (int i = 0; i < cols; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((chunk.getShort(rowByte + 2 * i) & 0xFFFF) << 16);
        }
    }

    @Override
    public long byteSize() {
        return 2L * rows * cols;
    }
}
