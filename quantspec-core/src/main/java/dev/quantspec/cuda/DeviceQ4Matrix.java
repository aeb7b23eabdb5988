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
 * {@code groupParams()}). Owns its buffers; one instance per weight matrix.
 */
public final class DeviceQ4Matrix implements AutoCloseable {
    /** Elements per group along a row in the paper (Q4Matrix.DEFAULT_GROUP_SIZE). */
    public static final int DEFAULT_GROUP_SIZE = 128;
    static final int PIECE = 32;               // codes per 16-byte piece (q4gemv.cuh Q4_PIECE)
    static final int QUANT_THREADS = 128;      // q4gemv.cuh Q4_QUANT_THREADS (4 groups per block)
    static final int GEMV_THREADS = 256;       // q4gemv.cuh QS_Q4_H2_ENTRY(qs_q4_gemv_h2_*, 256, R, U, false)

    private final CudaContext context;
    private final String name;
    private final int rows;
    private final int cols;
    private final int groupSize;
    private final DeviceBuffer codes;   // u8 [rows][rowStride]
    private final DeviceBuffer params;  // f32 [rows][groupsPerRow][2]

    private DeviceQ4Matrix(CudaContext context, String name, int rows, int cols, int groupSize) {
        this.context = context;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        DeviceBuffer c = context.allocate(name + " 4-bit codes u8[" + rows + "][" + rowStride(cols) + "]",
                (long) rows * rowStride(cols));
        try {
            this.params = context.allocate(name + " 4-bit params f32[" + rows + "][" + groupsPerRow(cols, groupSize) + "][2]",
                    (long) rows * groupsPerRow(cols, groupSize) * 8);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        this.codes = c;
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
     * out[r] = dot(w4[r], x) for r < rows, x fp32 [cols] (16-byte aligned), out fp32 [rows], computed as
     * {@code sum_g scale_g * dot(q_g, x_g) + min_g * sum(x_g)} in one launch: each block stages x in shared
     * memory as fp16 pairs (each 32-value piece scaled by a power of two into [64, 128), so any fp32 range
     * fits) with the pieces' fp32 sums, each warp reads 16-byte code pieces of 2 or 4 rows
     * ({@link #gemvKernelFor}) and sums code x products in fp16 per piece (16 HFMA2 per half), then in fp32.
     * Graph-safe: nothing depends on host values besides the shapes. Not bitwise Q4Matrix.matMul: within
     * {@code 18 * 2^-11 * sum_c s_c n_c (|x_c| + 2^-15 max|x|) + 96 * 2^-24 * B} of the exact sum
     * (q4gemv.cuh, PassKernelsGpuTest; measured at most 1.3 * 2^-11 * sum_c s_c n_c |x_c|).
     */
    public void gemv(DeviceBuffer x, DeviceBuffer out) {
        launchGemv(x, out, false);
    }

    /**
     * out[r] += dot(w4[r], x): {@link #gemv} and the residual add in one launch (kernel {@code <name>_acc}),
     * bitwise {@link #gemv} into a scratch vector followed by {@link CudaKernels#addInPlace}. out must not
     * overlap x.
     */
    public void gemvAccumulate(DeviceBuffer x, DeviceBuffer out) {
        launchGemv(x, out, true);
    }

    private void launchGemv(DeviceBuffer x, DeviceBuffer out, boolean accumulate) {
        String shapes = name + ": 4-bit [" + rows + "][" + cols + "] x " + x.name() + " f32[" + cols + "] -> "
                + out.name() + " f32[" + rows + "]" + (accumulate ? " (accumulated)" : "");
        checkGemv(x, out, rows, cols, shapes);
        if ((x.address() & 15) != 0) {
            throw new IllegalArgumentException("x must be 16-byte aligned for the vector loads: " + shapes);
        }
        if (accumulate) CudaKernels.requireDisjoint(x, cols * 4L, out, rows * 4L, shapes);
        GemvKernel kernel = gemvKernelFor(rows, cols);
        int rowsPerBlock = GEMV_THREADS / 32 * kernel.rowsPerWarp();
        try (KernelArgs args = new KernelArgs().buffer(codes).buffer(params).buffer(x).buffer(out).i32(rows).i32(cols)
                .i32(rowStride(cols)).i32(groupsPerRow(cols, groupSize)).i32(groupSize / PIECE)) {
            context.launch(kernel.kernel() + (accumulate ? "_acc" : ""), CudaKernels.ceilDiv(rows, rowsPerBlock), 1,
                    GEMV_THREADS, args, shapes);
        }
    }

    /** A 4-bit GEMV entry point of q4gemv.cuh and the rows each of its warps reduces. */
    record GemvKernel(String kernel, int rowsPerWarp) {
    }

    /**
     * The variant measured fastest on an H200 (2026-11-29, second round, native-kernels/bench-results/
     * h200-2026-11-29-gemv-tuning.md): the half2 kernels (two codes dequantized per LOP3 into fp16, HFMA2
     * products, fp32 per 32-code piece and across pieces), 256 threads, 2 code pieces per lane and row in
     * flight; 4 rows per warp for tall matrices (rows >= 8192: qkv of Llama-2-7B, gate/up), else 2.
     */
    static GemvKernel gemvKernelFor(int rows, int cols) {
        return rows >= 8192 ? new GemvKernel("qs_q4_gemv_h2_r4u2", 4) : new GemvKernel("qs_q4_gemv_h2_r2u2", 2);
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

    /** Device bytes of the weights (codes and params): what one {@link #gemv} reads (besides x). */
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
    }
}
