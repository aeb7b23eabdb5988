package dev.quantspec.cuda;

import dev.quantspec.ModelFormatException;

/**
 * The draft's 4-bit weights on the GPU: {@link dev.quantspec.quant.Q4Matrix} quantized on the device
 * from a bf16 matrix, group size G along a row ({@link #DEFAULT_GROUP_SIZE} = 128 in the paper; any
 * multiple of 32 here; the last group of a row partial), and its bandwidth-bound GEMV. Layout (q4gemv.cuh):
 * <pre>
 *   codes   u8 [rows][rowStride]   rowStride = 16 * ceil(cols / 32) bytes (rows 16-byte aligned); element (r, c)
 *                                  in byte r * rowStride + c / 2, even c in the low nibble; pads 0
 *   params  f16 [rows][groupsPerRow][2]   (scale, min), groupsPerRow = ceil(cols / G); halves (Q4Matrix's params)
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
    static final int GEMV_THREADS = 256;       // q4gemv.cuh QS_Q4_H2_ENTRY(qs_q4_gemv_h2_*, 256, R, U, PF)

    private final CudaContext context;
    private final String name;
    private final int rows;
    private final int cols;
    private final int groupSize;
    private final DeviceBuffer codes;   // u8 [rows][rowStride]
    private final DeviceBuffer params;  // f16 [rows][groupsPerRow][2]

    private DeviceQ4Matrix(CudaContext context, String name, int rows, int cols, int groupSize) {
        this.context = context;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.groupSize = groupSize;
        DeviceBuffer c = context.allocate(name + " 4-bit codes u8[" + rows + "][" + rowStride(cols) + "]",
                (long) rows * rowStride(cols));
        try {
            this.params = context.allocate(name + " 4-bit params f16[" + rows + "][" + groupsPerRow(cols, groupSize) + "][2]",
                    (long) rows * groupsPerRow(cols, groupSize) * 4);
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
     * @throws ModelFormatException if a weight is NaN or infinite, or a group's fp16 params do not fit (as
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
                        + "weight, or its fp16 params do not fit (min below -65504 or scale above 65504)");
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
        GemvKernel kernel = plainGemvKernelFor(rows, cols);
        int rowsPerBlock = GEMV_THREADS / 32 * kernel.rowsPerWarp();
        try (KernelArgs args = new KernelArgs().buffer(codes).buffer(params).buffer(x).buffer(out).i32(rows).i32(cols)
                .i32(rowStride(cols)).i32(groupsPerRow(cols, groupSize)).i32(groupSize / PIECE)) {
            context.launch(kernel.kernel() + (accumulate ? "_acc" : ""), CudaKernels.ceilDiv(rows, rowsPerBlock), 1,
                    GEMV_THREADS, args, shapes);
        }
    }

    /**
     * out[r] = dot(w4[r], RMSNorm(x) * weight) for r < rows: {@link CudaKernels#rmsNorm} (one row) and {@link #gemv}
     * in one launch (kernel {@code <gemv kernel>_norm}, q4gemv.cuh), for the draft pass's qkv projection. x is the
     * fp32 residual stream [cols] (16-byte aligned), {@code normWeight} the bf16 [cols] RMSNorm weight as
     * {@link CudaKernels#rmsNorm} takes it, out fp32 [rows] (must not overlap x). Every block stages
     * y = x * weight (one fp32 rounding) as {@link #gemv} stages x and sums x^2 over the row; each row's fp32 total
     * is then multiplied by {@code rsqrtf(sum(x^2) / cols + eps)} (qs_rmsnorm's formula, another summation order).
     * Not bitwise the two kernels: within {@code inv * (18 u_h S_y + 96 u B_y + (cols + 16) u M_y)} of the exact
     * {@code inv * sum_c w4[r][c] y_c} (y = x * weight, inv the exact 1 / sqrt(mean(x^2) + eps), S and B the
     * {@link #gemv} sums on y, M_y = sum_c |w4[r][c] y_c|; DeviceQ4MatrixFusedGpuTest). Graph-safe.
     */
    public void gemvRmsNorm(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer out) {
        launchFused(x, normWeight, eps, out, false);
    }

    /**
     * hidden[j] = silu(g_j) * u_j with g = the first rows / 2 and u = the last rows / 2 outputs of
     * {@link #gemvRmsNorm}: RMSNorm, the fused gate/up projection ([gate; up] stacked, gate rows first, rows = 2 ffn)
     * and {@link CudaKernels#swigluRows} in one launch (kernel {@code <gemv kernel>_norm_swiglu}): each warp reduces
     * gate rows j and up rows ffn + j and writes qs_silu_mul(g_j, u_j) into hidden fp32 [ffn]. Bitwise
     * {@link #gemvRmsNorm} into a [2 ffn] vector followed by {@link CudaKernels#swigluRows}; the gate/up vector itself
     * is never written. rows must be even; hidden must not overlap x.
     */
    public void gemvRmsNormSwiglu(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer hidden) {
        launchFused(x, normWeight, eps, hidden, true);
    }

    /**
     * The draft step's q | k | v projection with its RoPE and buffer append: {@link #gemvRmsNorm} into {@code qkv}
     * fp32 [rows] followed by {@link CudaKernels#ropeAppendRows} for that one row, in one launch (kernel
     * {@code <gemv kernel>_norm_rope}, q4gemv.cuh), bitwise the two. This matrix is the fused [q; k; v] projection
     * (rows = heads * headDim + 2 * kv heads * headDim of {@code kv}'s layout); each warp reduces the row pairs that
     * RoPE mixes (t and t + headDim/2 of a head), rotates the q and k pairs at position {@code header[0]}, stores every
     * pair into {@code qkv}, and writes the k and v pairs as fp16 to buffer row {@code header[2]} of {@code kv}.
     * Graph-safe (the position and buffer row come from the pass header); qkv must not overlap x.
     */
    public void gemvRmsNormRopeAppend(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer qkv,
                                      DeviceBuffer invFreq, DeviceQuantizedKv kv, DeviceBuffer header, int heads) {
        QuantizedKvLayout l = kv.layout();
        int headDim = l.headDim(), qDim = heads * headDim, kvDim = l.kvHeads() * headDim;
        String shapes = name + ": 4-bit [" + rows + "][" + cols + "] x RMSNorm(" + x.name() + " f32[" + cols + "]) * "
                + normWeight.name() + ", eps " + eps + " -> " + qkv.name() + " f32[" + rows + "] = q [" + heads + "]["
                + headDim + "] | k | v, RoPE at " + header.name() + "[0], appended to " + l;
        checkRopeAppend(rows, heads, l, invFreq, header, shapes);
        checkFused(x, normWeight, eps, qkv, rows, cols, false, shapes);
        checkFusedAddresses(x.address(), normWeight.address(), qkv.address(), rows, cols, false, shapes);
        GemvKernel kernel = gemvKernelFor(rows, cols);
        int grid = CudaKernels.ceilDiv(rows / 2, GEMV_THREADS / 32 * (kernel.rowsPerWarp() / 2));
        try (KernelArgs args = new KernelArgs().buffer(codes).buffer(params).buffer(x).buffer(normWeight).f32(eps)
                .buffer(qkv).i32(rows).i32(cols).i32(rowStride(cols)).i32(groupsPerRow(cols, groupSize))
                .i32(groupSize / PIECE).buffer(invFreq).buffer(header).i32(headDim).i32(qDim).i32(kvDim)
                .buffer(kv.bufferKeys).buffer(kv.bufferValues).i32(l.bufferCapacity())) {
            context.launch(kernel.kernel() + "_norm_rope", grid, 1, GEMV_THREADS, args, shapes);
        }
    }

    /** The host-side checks of {@link #gemvRmsNormRopeAppend} on the q | k | v shape (no device needed). */
    static void checkRopeAppend(int rows, int heads, QuantizedKvLayout l, DeviceBuffer invFreq, DeviceBuffer header,
                                String shapes) {
        CudaKernels.requirePositive(shapes, heads);
        int headDim = l.headDim();
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("RoPE needs an even head dimension: " + shapes);
        }
        if ((long) (heads + 2 * l.kvHeads()) * headDim != rows) {
            throw new IllegalArgumentException("the matrix must be [q; k; v] with " + heads + " query heads and "
                    + l.kvHeads() + " kv heads of " + headDim + ": " + (heads + 2 * l.kvHeads()) * headDim
                    + " rows, not " + rows + ": " + shapes);
        }
        CudaKernels.require(invFreq, headDim / 2 * 4L, shapes);
        CudaKernels.require(header, 3 * 4, shapes);
    }

    private void launchFused(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer out, boolean swiglu) {
        String shapes = name + ": 4-bit [" + rows + "][" + cols + "] x RMSNorm(" + x.name() + " f32[" + cols + "]) * "
                + normWeight.name() + " bf16[" + cols + "], eps " + eps + " -> " + out.name() + " f32["
                + (swiglu ? rows / 2 + "] (SwiGLU of gate/up)" : rows + "]");
        checkFused(x, normWeight, eps, out, rows, cols, swiglu, shapes);
        checkFusedAddresses(x.address(), normWeight.address(), out.address(), rows, cols, swiglu, shapes);
        GemvKernel kernel = gemvKernelFor(rows, cols);
        int warps = GEMV_THREADS / 32;
        int grid = swiglu ? CudaKernels.ceilDiv(rows / 2, warps * (kernel.rowsPerWarp() / 2))
                : CudaKernels.ceilDiv(rows, warps * kernel.rowsPerWarp());
        try (KernelArgs args = new KernelArgs().buffer(codes).buffer(params).buffer(x).buffer(normWeight).f32(eps)
                .buffer(out).i32(rows).i32(cols).i32(rowStride(cols)).i32(groupsPerRow(cols, groupSize))
                .i32(groupSize / PIECE)) {
            context.launch(kernel.kernel() + (swiglu ? "_norm_swiglu" : "_norm"), grid, 1, GEMV_THREADS, args, shapes);
        }
    }

    /** The host-side checks of {@link #gemvRmsNorm} and {@link #gemvRmsNormSwiglu} on sizes and eps (no device needed). */
    static void checkFused(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer out, int rows, int cols,
                           boolean swiglu, String shapes) {
        if (swiglu && rows % 2 != 0) {
            throw new IllegalArgumentException("the SwiGLU GEMV needs [gate; up] stacked: an even number of rows: " + shapes);
        }
        checkGemv(x, out, swiglu ? rows / 2 : rows, cols, shapes);
        CudaKernels.require(normWeight, cols * 2L, shapes);
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be finite and not negative: " + shapes);
        }
    }

    /**
     * The address checks of the fused GEMVs: x 16-byte aligned (vector loads; the weight may be unaligned, the kernel
     * then loads it element by element), and out disjoint from x and from the weight (every block reads all of them
     * while other blocks write out).
     */
    static void checkFusedAddresses(long x, long normWeight, long out, int rows, int cols, boolean swiglu, String shapes) {
        if ((x & 15) != 0) {
            throw new IllegalArgumentException("x must be 16-byte aligned for the vector loads: " + shapes);
        }
        long outBytes = (swiglu ? rows / 2 : rows) * 4L;
        if (overlap(x, cols * 4L, out, outBytes) || overlap(normWeight, cols * 2L, out, outBytes)) {
            throw new IllegalArgumentException("out must not overlap x or the norm weight (every block reads them while "
                    + "others write out): " + shapes);
        }
    }

    private static boolean overlap(long a, long aBytes, long b, long bBytes) {
        return a < b + bBytes && b < a + aBytes;
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

    /**
     * The entry of {@link #gemv} / {@link #gemvAccumulate}: {@link #gemvKernelFor} for rows >= 8192, else the same
     * R2 U2 kernel with the next chunk's codes prefetched ({@code qs_q4_gemv_h2_r2u2p}, q4gemv.cuh; bitwise the
     * same results). Its grid (rows / 16 blocks: 256 for the draft's o and down projections) fills only ~2 of the
     * 3-4 resident blocks per SM, so the prefetch's extra registers cost no occupancy and keep two chunks in flight
     * per warp: o 5.9 -> 5.3 us, down 13.3 -> 11.0 us (Llama-2-7B), the draft layer -5.4% / -7% in a 32-layer graph
     * (bench-results/h200-2026-11-29-gemv-round4.md). The fused entries keep gemvKernelFor: their grids span
     * several waves (qkv, gate/up), where the prefetch's registers cost resident blocks (20-50% slower).
     */
    static GemvKernel plainGemvKernelFor(int rows, int cols) {
        return rows >= 8192 ? gemvKernelFor(rows, cols) : new GemvKernel("qs_q4_gemv_h2_r2u2p", 2);
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

    /** The device params, f16 [rows][groupsPerRow][2]: (scale, min). */
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
        short[] halves = params.downloadShorts(Math.toIntExact((long) rows * groupsPerRow(cols, groupSize) * 2));
        float[] values = new float[halves.length];
        for (int i = 0; i < values.length; i++) values[i] = HalfFloats.halfToFloat(halves[i]);
        return values;
    }

    @Override
    public void close() {
        codes.close();
        params.close();
    }
}
