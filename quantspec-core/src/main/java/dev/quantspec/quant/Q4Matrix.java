package dev.quantspec.quant;

import dev.quantspec.ModelFormatException;
import dev.quantspec.tensor.Simd;
import dev.quantspec.tensor.WeightMatrix;
import java.util.stream.IntStream;

/**
 * The draft model's 4-bit weights: group-wise asymmetric 4-bit quantization along the input
 * dimension (QUANTSPEC.md, "Draft and target"). Each run of {@code groupSize} consecutive elements
 * of a row has its own scale and minimum; the last group of a row is partial when {@code cols} is
 * not a multiple of {@code groupSize}.
 *
 * <p>The codes are exactly the upper codes of {@link ResidualQuantizer} applied to each group
 * ({@code q = clamp(rint((w - min)/scale), 0, 15)}, {@code w4 = q*scale + min}), with its fp16 params
 * (the minimum rounded down to a half, the scale up: {@link ResidualQuantizer#storedMinimum},
 * {@link ResidualQuantizer#storedScale}), so the formulas stay in one place and the GPU stores a half2 per
 * group: 4 of the 68 bytes a 128-weight group streams in the draft's GEMVs (fp32 params were 8 of 72).
 *
 * <p>{@link #matMul} uses {@code dot(w4, x) = sum_g scale_g * dot(q_g, x_g) + min_g * sum(x_g)}:
 * the group sums of {@code x} are computed once per position and shared by all rows. It runs the
 * Vector API kernel ({@link Q4SimdKernel}) when {@link Simd#enabled()} and a group fills at
 * least one vector block (8 codes per int lane: 128 with 512-bit vectors, 64 with 256-bit ones),
 * and the scalar reference ({@link ScalarQ4}) otherwise. Both are batch-invariant: {@code out[t][r]} is computed by the same
 * code in the same order whatever {@code n} and the row range are.
 */
public final class Q4Matrix implements WeightMatrix {
    /** The paper's weight group size. */
    public static final int DEFAULT_GROUP_SIZE = 128;

    private static final boolean SIMD = Simd.enabled();

    private final int rows;
    private final int cols;
    private final int groupSize;
    private final int groupsPerRow; // ceil(cols / groupSize)
    private final int rowBytes;     // ceil(cols / 2): every row starts on a byte boundary
    private final NibblePlane codes; // [rows][2 * rowBytes] nibbles: element (r, c) at nibble 2*rowBytes*r + c
    private final float[] params;   // [rows][groupsPerRow][2]: (scale, min) of each group

    private Q4Matrix(int rows, int cols, int groupSize) {
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        this.groupsPerRow = (cols + groupSize - 1) / groupSize;
        this.rowBytes = (cols + 1) / 2;
        this.codes = new NibblePlane(2L * rowBytes * rows);
        this.params = new float[Math.multiplyExact(Math.multiplyExact(rows, groupsPerRow), 2)];
    }

    /**
     * Quantizes {@code source} row by row (rows in parallel: {@link WeightMatrix} is read-only).
     *
     * @param groupSize elements per group along a row; even, so that every group starts on a byte
     * @throws ModelFormatException if a weight is NaN or infinite, or a group's fp16 params do not fit
     */
    public static Q4Matrix quantize(WeightMatrix source, int groupSize) {
        if (groupSize < 2 || groupSize % 2 != 0) {
            throw new IllegalArgumentException("the 4-bit group size must be even and >= 2, got " + groupSize);
        }
        int rows = source.rows();
        int cols = source.cols();
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("cannot quantize an empty " + rows + "x" + cols + " matrix");
        }
        Q4Matrix q = new Q4Matrix(rows, cols, groupSize);
        // Rows start on byte boundaries, so parallel rows never write the same byte of the codes.
        IntStream.range(0, rows).parallel().forEach(r -> {
            float[] row = new float[cols];
            source.readRow(r, row, 0);
            q.quantizeRow(r, row);
        });
        return q;
    }

    /** {@link #quantize(WeightMatrix, int)} with {@link #DEFAULT_GROUP_SIZE}. */
    public static Q4Matrix quantize(WeightMatrix source) {
        return quantize(source, DEFAULT_GROUP_SIZE);
    }

    private void quantizeRow(int r, float[] row) {
        long rowNibble = 2L * rowBytes * r;
        for (int g = 0; g < groupsPerRow; g++) {
            int start = g * groupSize;
            int end = Math.min(start + groupSize, cols);
            float mn = row[start];
            float mx = mn;
            for (int c = start + 1; c < end; c++) {
                mn = Math.min(mn, row[c]);
                mx = Math.max(mx, row[c]);
            }
            float min = mn;
            mn = ResidualQuantizer.storedMinimum(min);
            float scale = ResidualQuantizer.storedScale(mn, mx);
            if (!Float.isFinite(scale)) {
                throw nonFinite(r, row, start, end, min, mx);
            }
            for (int c = start; c < end; c++) {
                codes.set(rowNibble + c, ResidualQuantizer.upperCode(row[c], scale, mn));
            }
            int p = 2 * (r * groupsPerRow + g);
            params[p] = scale;
            params[p + 1] = mn;
        }
    }

    private ModelFormatException nonFinite(int r, float[] row, int start, int end, float mn, float mx) {
        for (int c = start; c < end; c++) {
            if (!Float.isFinite(row[c])) {
                return new ModelFormatException("cannot quantize a " + rows + "x" + cols + " weight matrix to 4 bits: "
                        + "element (" + r + ", " + c + ") is " + row[c]);
            }
        }
        return new ModelFormatException("cannot quantize a " + rows + "x" + cols + " weight matrix to 4 bits: "
                + "row " + r + ", columns " + start + ".." + (end - 1) + " span " + mn + " .. " + mx
                + ": its fp16 params do not fit (the minimum must be >= -65504 and (max - min) / 15 <= 65504)");
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public int groupSize() {
        return groupSize;
    }

    public int groupsPerRow() {
        return groupsPerRow;
    }

    /** Bytes per row in {@link #codes()}: {@code ceil(cols / 2)}; row {@code r} starts at byte {@code r * rowBytes()}. */
    public int rowBytes() {
        return rowBytes;
    }

    /** The packed codes ({@link NibblePlane} layout), {@code [rows][2 * rowBytes()]}; the pad nibble of an odd row is 0. Do not modify. */
    public NibblePlane codes() {
        return codes;
    }

    /** {@code [rows][groupsPerRow][2]}: scale then minimum of each group. Do not modify. */
    public float[] groupParams() {
        return params;
    }

    /** The 4-bit code of element {@code (r, c)}. */
    public int code(int r, int c) {
        return codes.get(2L * rowBytes * r + c);
    }

    public float scale(int r, int g) {
        return params[2 * (r * groupsPerRow + g)];
    }

    public float min(int r, int g) {
        return params[2 * (r * groupsPerRow + g) + 1];
    }

    @Override
    public void matMul(float[] x, int xOff, int xStride, int n,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        if (rowStart < 0 || rowEnd > rows || rowStart > rowEnd || n < 0) {
            throw new IllegalArgumentException("rows [" + rowStart + ", " + rowEnd + ") of a " + rows + "x" + cols
                    + " 4-bit matrix, n=" + n);
        }
        if (n == 0 || rowStart == rowEnd) {
            return;
        }
        if (SIMD && groupSize >= Q4SimdKernel.blockSize()) {
            Q4SimdKernel.matMul(this, x, xOff, xStride, n, out, outOff, outStride, rowStart, rowEnd);
        } else {
            ScalarQ4.matMul(this, x, xOff, xStride, n, out, outOff, outStride, rowStart, rowEnd);
        }
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        for (int g = 0; g < groupsPerRow; g++) {
            float scale = scale(r, g);
            float mn = min(r, g);
            int end = Math.min((g + 1) * groupSize, cols);
            for (int c = g * groupSize; c < end; c++) {
                dst[dstOff + c] = ResidualQuantizer.dequant4(code(r, c), scale, mn);
            }
        }
    }

    /** Packed codes plus the fp32 scale and minimum of every group. */
    @Override
    public long byteSize() {
        return codes.byteSize() + 4L * params.length;
    }
}
