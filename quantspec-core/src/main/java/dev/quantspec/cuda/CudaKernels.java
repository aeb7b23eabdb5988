package dev.quantspec.cuda;

/**
 * Typed launchers for the decode kernels in native-kernels/src/main/cuda. Each checks that the
 * buffers are large enough for the shapes it is given, launches on the context's stream and checks
 * the launch; a fault inside a kernel surfaces at the next synchronize (or at once with
 * {@link CudaContext#setCheckEveryLaunch}). Layouts: activations fp32, weights bf16 row-major
 * [rows][cols], KV cache fp16 [kvHeads][maxSeq][headDim], positions and tokens as one int on the device.
 */
public final class CudaKernels {
    /** Rows each warp of the GEMV reduces together (kernel qs_gemv_bf16_r{n}). */
    public enum GemvVariant {
        ROWS_1("qs_gemv_bf16_r1", 1),
        ROWS_2("qs_gemv_bf16_r2", 2),
        ROWS_4("qs_gemv_bf16_r4", 4);

        final String kernel;
        final int rowsPerWarp;

        GemvVariant(String kernel, int rowsPerWarp) {
            this.kernel = kernel;
            this.rowsPerWarp = rowsPerWarp;
        }
    }

    static final int GEMV_THREADS = 128;          // gemv.cuh GEMV_THREADS
    static final int ARGMAX_THREADS = 1024;        // elementwise.cuh ARGMAX_THREADS
    static final int ELEMENTWISE_THREADS = 256;
    static final int RMSNORM_THREADS = 256;

    private final CudaContext context;
    private GemvVariant gemvVariant;  // null: chosen per shape, see gemvVariantFor

    public CudaKernels(CudaContext context) {
        this.context = context;
    }

    public CudaContext context() {
        return context;
    }

    /** Forces one GEMV variant for every shape (null restores the per-shape choice). */
    public void setGemvVariant(GemvVariant variant) {
        this.gemvVariant = variant;
    }

    /** out[r] = W[r] . x for r < rows; W bf16 [rows][cols], x fp32 [cols], out fp32 [rows]. */
    public void gemvBf16(DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out, int rows, int cols) {
        gemvBf16(gemvVariant != null ? gemvVariant : gemvVariantFor(rows, cols), weights, x, out, rows, cols);
    }

    /**
     * The variant measured fastest on an H200 (2026-11-29, results in the issue-4 notes): four rows
     * per warp for tall matrices of width up to 4096 (QKV, gate/up, LM head: 91-97% of the copy
     * bandwidth), one row per warp otherwise (square and wide matrices, where fewer, longer rows
     * leave too few warps for four rows each).
     */
    static GemvVariant gemvVariantFor(int rows, int cols) {
        return rows >= 8192 && cols <= 4096 ? GemvVariant.ROWS_4 : GemvVariant.ROWS_1;
    }

    public void gemvBf16(GemvVariant variant, DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out,
                         int rows, int cols) {
        String shapes = "W " + weights.name() + " bf16[" + rows + "][" + cols + "], x " + x.name() + " f32[" + cols
                + "], out " + out.name() + " f32[" + rows + "]";
        requirePositive(shapes, rows, cols);
        require(weights, (long) rows * cols * 2, shapes);
        require(x, cols * 4L, shapes);
        require(out, rows * 4L, shapes);
        if ((x.address() & 15) != 0) {
            throw new IllegalArgumentException("x must be 16-byte aligned for the vector loads: " + shapes);
        }
        int rowsPerBlock = (GEMV_THREADS / 32) * variant.rowsPerWarp;
        try (KernelArgs args = new KernelArgs().buffer(weights).buffer(x).buffer(out).i32(rows).i32(cols)) {
            context.launch(variant.kernel, ceilDiv(rows, rowsPerBlock), 1, GEMV_THREADS, args, shapes);
        }
    }

    /** out[d] = table[token][d]; table bf16 [vocab][dim], token int[1] on the device, out fp32 [dim]. */
    public void embedding(DeviceBuffer table, DeviceBuffer token, DeviceBuffer out, int dim, int vocab) {
        String shapes = "table " + table.name() + " bf16[" + vocab + "][" + dim + "], out f32[" + dim + "]";
        requirePositive(shapes, dim, vocab);
        require(table, (long) vocab * dim * 2, shapes);
        require(token, 4, shapes);
        require(out, dim * 4L, shapes);
        try (KernelArgs args = new KernelArgs().buffer(table).buffer(token).buffer(out).i32(dim).i32(vocab)) {
            context.launch("qs_embedding_bf16", ceilDiv(dim, ELEMENTWISE_THREADS), 1, ELEMENTWISE_THREADS, args, shapes);
        }
    }

    /** out = x / sqrt(mean(x^2) + eps) * weight per row; x, out fp32 [rows][dim], weight bf16 [dim]. */
    public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer out, int rows, int dim, float eps) {
        String shapes = "x " + x.name() + " f32[" + rows + "][" + dim + "], weight " + weight.name() + " bf16[" + dim + "]";
        requirePositive(shapes, rows, dim);
        require(x, (long) rows * dim * 4, shapes);
        require(weight, dim * 2L, shapes);
        require(out, (long) rows * dim * 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(x).buffer(weight).buffer(out).i32(dim).f32(eps)) {
            context.launch("qs_rmsnorm", rows, 1, RMSNORM_THREADS, args, shapes);
        }
    }

    /**
     * Rotates q fp32 [nHeads][headDim] and k fp32 [nKvHeads][headDim] in place (HF rotate-half
     * pairs (i, i + headDim/2)) by position * invFreq[i]; invFreq fp32 [headDim/2]; position int[1].
     */
    public void rope(DeviceBuffer q, DeviceBuffer k, DeviceBuffer invFreq, DeviceBuffer position,
                     int nHeads, int nKvHeads, int headDim) {
        String shapes = "q f32[" + nHeads + "][" + headDim + "], k f32[" + nKvHeads + "][" + headDim + "]";
        requirePositive(shapes, nHeads, nKvHeads, headDim);
        if (headDim % 2 != 0 || headDim > 2048) {
            throw new IllegalArgumentException("RoPE needs an even head dimension up to 2048: " + shapes);
        }
        require(q, (long) nHeads * headDim * 4, shapes);
        require(k, (long) nKvHeads * headDim * 4, shapes);
        require(invFreq, headDim / 2 * 4L, shapes);
        require(position, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(q).buffer(k).buffer(invFreq).buffer(position)
                .i32(nHeads).i32(headDim)) {
            context.launch("qs_rope", nHeads + nKvHeads, 1, roundUp(headDim / 2, 32), args, shapes);
        }
    }

    /** out[i] = silu(gate[i]) * up[i] for i < n (out may be gate). */
    public void swiglu(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out, int n) {
        String shapes = "gate/up/out f32[" + n + "]";
        requirePositive(shapes, n);
        require(gate, n * 4L, shapes);
        require(up, n * 4L, shapes);
        require(out, n * 4L, shapes);
        try (KernelArgs args = new KernelArgs().buffer(gate).buffer(up).buffer(out).i32(n)) {
            context.launch("qs_swiglu", elementwiseBlocks(n), 1, ELEMENTWISE_THREADS, args, shapes);
        }
    }

    /** x[i] += y[i] for i < n (the residual connection). */
    public void addInPlace(DeviceBuffer x, DeviceBuffer y, int n) {
        String shapes = "x/y f32[" + n + "]";
        requirePositive(shapes, n);
        require(x, n * 4L, shapes);
        require(y, n * 4L, shapes);
        try (KernelArgs args = new KernelArgs().buffer(x).buffer(y).i32(n)) {
            context.launch("qs_add_inplace", elementwiseBlocks(n), 1, ELEMENTWISE_THREADS, args, shapes);
        }
    }

    /**
     * Writes k, v fp32 [nKvHeads][headDim] as fp16 into row {@code position} of kCache, vCache fp16
     * [nKvHeads][maxSeq][headDim]. The caller guarantees position < maxSeq (the kernel ignores others).
     */
    public void kvAppend(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache,
                         DeviceBuffer position, int nKvHeads, int headDim, int maxSeq) {
        String shapes = "k/v f32[" + nKvHeads + "][" + headDim + "], cache f16[" + nKvHeads + "][" + maxSeq + "]["
                + headDim + "]";
        requirePositive(shapes, nKvHeads, headDim, maxSeq);
        if (headDim > 1024) throw new IllegalArgumentException("head dimension over 1024: " + shapes);
        require(k, (long) nKvHeads * headDim * 4, shapes);
        require(v, (long) nKvHeads * headDim * 4, shapes);
        require(kCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        require(vCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        require(position, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(k).buffer(v).buffer(kCache).buffer(vCache).buffer(position)
                .i32(headDim).i32(maxSeq)) {
            context.launch("qs_kv_append_f16", nKvHeads, 1, roundUp(headDim, 32), args, shapes);
        }
    }

    /** out[0] = index of the first maximum of x fp32 [n] (NaNs ignored; -1 when all are NaN). */
    public void argmax(DeviceBuffer x, int n, DeviceBuffer out) {
        String shapes = "x " + x.name() + " f32[" + n + "]";
        requirePositive(shapes, n);
        require(x, n * 4L, shapes);
        require(out, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(x).i32(n).buffer(out)) {
            context.launch("qs_argmax", 1, 1, ARGMAX_THREADS, args, shapes);
        }
    }

    /** out[i] = offset + scale * u(seed, i) as bf16 for i < n, u uniform in [-1, 1) (benchmark weights). */
    public void fillRandomBf16(DeviceBuffer out, long n, long seed, float offset, float scale) {
        fillRandom("qs_fill_random_bf16", out, n, seed, offset, scale);
    }

    /** As {@link #fillRandomBf16}, as fp16 (benchmark KV caches). */
    public void fillRandomF16(DeviceBuffer out, long n, long seed, float offset, float scale) {
        fillRandom("qs_fill_random_f16", out, n, seed, offset, scale);
    }

    private void fillRandom(String kernel, DeviceBuffer out, long n, long seed, float offset, float scale) {
        String shapes = "out " + out.name() + " 16-bit[" + n + "]";
        if (n <= 0) throw new IllegalArgumentException("sizes must be positive: " + shapes);
        require(out, n * 2, shapes);
        try (KernelArgs args = new KernelArgs().buffer(out).i64(n).i64(seed).f32(offset).f32(scale)) {
            context.launch(kernel, context.multiprocessorCount() * 8, 1, ELEMENTWISE_THREADS, args, shapes);
        }
    }

    private int elementwiseBlocks(int n) {
        // Grid-stride kernels: a few waves of blocks is enough for vectors of a model's width.
        return Math.min(ceilDiv(n, ELEMENTWISE_THREADS), context.multiprocessorCount() * 8);
    }

    static void require(DeviceBuffer buffer, long bytes, String shapes) {
        if (buffer.bytes() < bytes) {
            throw new IllegalArgumentException(buffer.name() + " holds " + buffer.bytes() + " bytes but " + bytes
                    + " are needed for " + shapes);
        }
    }

    static void requirePositive(String shapes, int... sizes) {
        for (int size : sizes) {
            if (size <= 0) throw new IllegalArgumentException("sizes must be positive: " + shapes);
        }
    }

    static int ceilDiv(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }

    static int roundUp(int a, int multiple) {
        return ceilDiv(a, multiple) * multiple;
    }
}
