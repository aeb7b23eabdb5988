package dev.quantspec.cuda;

import dev.quantspec.ModelFormatException;

/**
 * The draft's 4-bit weights on the GPU: {@link dev.quantspec.quant.Q4Matrix} quantized on the device
 * from a bf16 matrix, group size G along a row ({@link #DEFAULT_GROUP_SIZE} = 128 in the paper; any
 * multiple of 32 here; the last group of a row partial), and its bandwidth-bound GEMV. Layout (q4gemv.cuh):
 * <pre>
 *   codes   u8 [rows][rowStride]   rowStride = 16 * ceil(cols / 32) bytes (rows 16-byte aligned); element (r, c)
 *                                  in byte r * rowStride + c / 2, even c in the low nibble; pads 0
 *   params  f32 [rows][groupsPerRow][2]   (scale, min), groupsPerRow = ceil(cols / G)
 * </pre>
 * The first {@code ceil(cols / 2)} bytes of each code row and every param are bit-identical to
 * {@code Q4Matrix.quantize(source, G)} ({@code codes().bytes()} row r at {@code r * rowBytes()},
 * {@code groupParams()}). Owns its buffers (and the GEMV's scratch); one instance per weight matrix.
 */
public final class DeviceQ4Matrix implements AutoCloseable {
    /** Elements per group along a row in the paper (Q4Matrix.DEFAULT_GROUP_SIZE). */
    public static final int DEFAULT_GROUP_SIZE = 128;
    static final int PIECE = 32;               // codes per 16-byte piece (q4gemv.cuh Q4_PIECE)
    static final int QUANT_THREADS = 128;      // q4gemv.cuh Q4_QUANT_THREADS (4 groups per block)
    static final int GEMV_THREADS = 64;        // q4gemv.cuh Q4_GEMV_THREADS
    static final int GEMV_ROWS_PER_WARP = 4;   // qs_q4_gemv_body<4, 2>

    private final CudaContext context;
    private final String name;
    private final int rows;
    private final int cols;
    private final int groupSize;
    private final DeviceBuffer codes;   // u8 [rows][rowStride]
    private final DeviceBuffer params;  // f32 [rows][groupsPerRow][2]
    private final DeviceBuffer xpad;    // f32 [pieces * 32]: the GEMV's zero-padded input
    private final DeviceBuffer xsum;    // f32 [pieces]: sums of the input's 32-value pieces

    private DeviceQ4Matrix(CudaContext context, String name, int rows, int cols, int groupSize) {
        this.context = context;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        DeviceBuffer c = null, p = null, xp = null;
        try {
            c = context.allocate(name + " 4-bit codes u8[" + rows + "][" + rowStride(cols) + "]", (long) rows * rowStride(cols));
            p = context.allocate(name + " 4-bit params f32[" + rows + "][" + groupsPerRow(cols, groupSize) + "][2]",
                    (long) rows * groupsPerRow(cols, groupSize) * 8);
            xp = context.allocate(name + " padded input f32[" + pieces(cols) * PIECE + "]", (long) pieces(cols) * PIECE * 4);
            this.xsum = context.allocate(name + " input piece sums f32[" + pieces(cols) + "]", pieces(cols) * 4L);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : new DeviceBuffer[] {c, p, xp}) if (b != null) b.close();
            throw e;
        }
        this.codes = c;
        this.params = p;
        this.xpad = xp;
    }

    /**
     * Quantizes {@code source} bf16 [rows][cols] (row-major; several stacked tensors are just more rows)
     * on the device, bit-identical to {@code Q4Matrix.quantize(source, groupSize)}. Blocks until done (one
     * status download).
     *
     * @param groupSize elements per group along a row: a positive multiple of 32 (128 in the paper)
     * @throws ModelFormatException if a weight is NaN or infinite, or a group's range overflows float (as
     *                              Q4Matrix.quantize)
     */
    public static DeviceQ4Matrix quantize(CudaContext context, String name, DeviceBuffer source, int rows, int cols,
                                          int groupSize) {
        String shapes = name + ": bf16 " + source.name() + "[" + rows + "][" + cols + "] to 4 bits, group " + groupSize;
        checkShape(source, rows, cols, groupSize, shapes);
        DeviceQ4Matrix m = new DeviceQ4Matrix(context, name, rows, cols, groupSize);
        try (DeviceBuffer status = context.allocate(name + " quantize status int[1]", 4)) {
            status.fill((byte) 0);
            m.codes.fill((byte) 0);  // the pad nibbles and bytes past cols stay 0
            long groups = (long) rows * groupsPerRow(cols, groupSize);
            try (KernelArgs args = new KernelArgs().buffer(source).i32(rows).i32(cols).i32(groupSize).buffer(m.codes)
                    .i32(rowStride(cols)).buffer(m.params).buffer(status)) {
                context.launch("qs_q4_quantize_bf16", CudaKernels.ceilDiv(groups, QUANT_THREADS / 32), 1, QUANT_THREADS,
                        args, shapes);
            }
            if (status.downloadInts(1)[0] != 0) {
                throw new ModelFormatException("cannot quantize " + shapes + ": a group holds a NaN or infinite "
                        + "weight, or its range max - min overflows float");
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /** The host-side checks of {@link #quantize} (no device needed). */
    static void checkShape(DeviceBuffer source, int rows, int cols, int groupSize, String shapes) {
        CudaKernels.requirePositive(shapes, rows, cols, groupSize);
        if (groupSize % PIECE != 0) {
            throw new IllegalArgumentException("the GPU 4-bit group size must be a multiple of " + PIECE
                    + " (a 16-byte piece of codes lies in one group): " + shapes);
        }
        CudaKernels.require(source, (long) rows * cols * 2, shapes);
    }

    /**
     * out[r] = dot(w4[r], x) for r < rows, x fp32 [cols], out fp32 [rows], computed as
     * {@code sum_g scale_g * dot(q_g, x_g) + min_g * sum(x_g)} (two launches: x padded and summed per
     * 32 values, then the GEMV reading 16-byte code pieces, 8 per lane in flight). Graph-safe: nothing
     * depends on host values besides the shapes. Within ~1e-6 relative (fp32) of Q4Matrix.matMul, not
     * bitwise (the sums run in another order).
     */
    public void gemv(DeviceBuffer x, DeviceBuffer out) {
        String shapes = name + ": 4-bit [" + rows + "][" + cols + "] x " + x.name() + " f32[" + cols + "] -> "
                + out.name() + " f32[" + rows + "]";
        checkGemv(x, out, rows, cols, shapes);
        int pieces = pieces(cols);
        try (KernelArgs args = new KernelArgs().buffer(x).i32(cols).buffer(xpad).buffer(xsum).i32(pieces)) {
            context.launch("qs_q4_prepare_x", CudaKernels.ceilDiv(pieces, 4), 1, 128, args, shapes);
        }
        int rowsPerBlock = GEMV_THREADS / 32 * GEMV_ROWS_PER_WARP;
        try (KernelArgs args = new KernelArgs().buffer(codes).buffer(params).buffer(xpad).buffer(xsum).buffer(out)
                .i32(rows).i32(pieces).i32(rowStride(cols)).i32(groupsPerRow(cols, groupSize)).i32(groupSize / PIECE)) {
            context.launch("qs_q4_gemv", CudaKernels.ceilDiv(rows, rowsPerBlock), 1, GEMV_THREADS, args, shapes);
        }
    }

    static void checkGemv(DeviceBuffer x, DeviceBuffer out, int rows, int cols, String shapes) {
        CudaKernels.require(x, cols * 4L, shapes);
        CudaKernels.require(out, rows * 4L, shapes);
    }

    /** Bytes between code rows: {@code 16 * ceil(cols / 32)}. */
    public static int rowStride(int cols) {
        return pieces(cols) * 16;
    }

    public static int groupsPerRow(int cols, int groupSize) {
        return (cols + groupSize - 1) / groupSize;
    }

    static int pieces(int cols) {
        return (cols + PIECE - 1) / PIECE;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public int groupSize() {
        return groupSize;
    }

    /** The device codes, u8 [rows][rowStride(cols)] (layout in the class comment). */
    public DeviceBuffer codes() {
        return codes;
    }

    /** The device params, f32 [rows][groupsPerRow][2]: (scale, min). */
    public DeviceBuffer params() {
        return params;
    }

    /** Device bytes of the weights (codes and params): what one {@link #gemv} reads. */
    public long bytes() {
        return codes.bytes() + params.bytes();
    }

    /** The codes in Q4Matrix's layout ({@code [rows][ceil(cols / 2)]} bytes), downloaded (tests, checks). */
    public byte[] downloadPackedCodes() {
        int stride = rowStride(cols);
        int rowBytes = (cols + 1) / 2;
        int[] words = codes.downloadInts(Math.toIntExact((long) rows * stride / 4));
        byte[] out = new byte[Math.toIntExact((long) rows * rowBytes)];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < rowBytes; b++) {
                int at = r * stride + b;
                out[r * rowBytes + b] = (byte) (words[at >>> 2] >>> (8 * (at & 3)));
            }
        }
        return out;
    }

    /** The params as Q4Matrix.groupParams() holds them ({@code [rows][groupsPerRow][2]}), downloaded. */
    public float[] downloadParams() {
        return params.downloadFloats(Math.toIntExact((long) rows * groupsPerRow(cols, groupSize) * 2));
    }

    @Override
    public void close() {
        codes.close();
        params.close();
        xpad.close();
        xsum.close();
    }
}
