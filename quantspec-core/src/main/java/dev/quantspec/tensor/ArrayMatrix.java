package dev.quantspec.tensor;

/**
 * An fp32 matrix on the Java heap. Used for f32 and f16 checkpoints (converted once at load) and
 * by tests as the plain reference format.
 */
public final class ArrayMatrix implements WeightMatrix {
    private final int rows;
    private final int cols;
    private final float[] data; // [rows][cols]

    public ArrayMatrix(int rows, int cols, float[] data) {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException("data has " + data.length + " floats, expected " + rows + "x" + cols);
        }
        this.rows = rows;
        this.cols = cols;
        this.data = data;
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
            for (int t = 0; t < n; t++) {
                out[outOff + t * outStride + r] = Kernels.dot(data, r * cols, x, xOff + t * xStride, cols);
            }
        }
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        System.arraycopy(data, r * cols, dst, dstOff, cols);
    }

    @Override
    public long byteSize() {
        return 4L * rows * cols;
    }
}
