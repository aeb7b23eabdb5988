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
    static final int RMSNORM_THREADS = 512;  // qs_rmsnorm: 4096-wide rows take 2 vectors per thread

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

    /**
     * out[r] += W[r] . x for r < rows (a projection and the residual connection in one kernel,
     * qs_gemv_bf16_r{n}_acc); W bf16 [rows][cols], x fp32 [cols], out fp32 [rows], out not aliasing x.
     * Bitwise {@link #gemvBf16} into a scratch vector followed by {@link #addInPlace}(out, scratch):
     * the same sum, then the same single fp32 add. The variant is chosen as for {@link #gemvBf16}.
     */
    public void gemvBf16Accumulate(DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out, int rows, int cols) {
        gemvBf16Accumulate(gemvVariant != null ? gemvVariant : gemvVariantFor(rows, cols), weights, x, out, rows,
                cols);
    }

    /** {@link #gemvBf16Accumulate(DeviceBuffer, DeviceBuffer, DeviceBuffer, int, int)} with a given variant. */
    public void gemvBf16Accumulate(GemvVariant variant, DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out,
                                   int rows, int cols) {
        String shapes = "W " + weights.name() + " bf16[" + rows + "][" + cols + "], x " + x.name() + " f32[" + cols
                + "], out += " + out.name() + " f32[" + rows + "]";
        requirePositive(shapes, rows, cols);
        require(weights, (long) rows * cols * 2, shapes);
        require(x, cols * 4L, shapes);
        require(out, rows * 4L, shapes);
        if ((x.address() & 15) != 0) {
            throw new IllegalArgumentException("x must be 16-byte aligned for the vector loads: " + shapes);
        }
        requireDisjoint(x, cols * 4L, out, rows * 4L, shapes);
        int rowsPerBlock = (GEMV_THREADS / 32) * variant.rowsPerWarp;
        try (KernelArgs args = new KernelArgs().buffer(weights).buffer(x).buffer(out).i32(rows).i32(cols)) {
            context.launch(variant.kernel + "_acc", ceilDiv(rows, rowsPerBlock), 1, GEMV_THREADS, args, shapes);
        }
    }

    /** An accumulating kernel reads {@code x} while it adds into {@code out}: they must not overlap. */
    static void requireDisjoint(DeviceBuffer x, long xBytes, DeviceBuffer out, long outBytes, String shapes) {
        if (x.address() < out.address() + outBytes && out.address() < x.address() + xBytes) {
            throw new IllegalArgumentException("out must not overlap x (the kernel reads x while it adds into out): "
                    + shapes);
        }
    }

    /** Largest n of {@link #gemvBf16Rows} (kernels qs_gemv_bf16_n1 .. n9 in gemv.cuh; 8 per tensor-core launch). */
    public static final int MAX_GEMV_VECTORS = 9;

    /**
     * The arithmetic of the pass GEMVs ({@link #gemvBf16Rows}), fixed for the life of the process because a pass's
     * rows must agree bit for bit with 1-row passes. {@link #TENSOR_CORES} (the default, gemv_tc.cuh): one MMA per 16
     * rows serves up to 8 vectors, so a verification of 5 to 8 rows costs what a 1-row pass costs (a γ = 6 or 7
     * round pays no more per verified row than γ = 4); its 1-row passes (autoregressive decoding with the hierarchical
     * cache) are ~12% slower in the projections than the fp32 kernels. {@link #FP32} (gemv.cuh, the per-lane FMA
     * order of the single-vector decoder kernels): ~40 FMAs per 16 weight bytes at 5 vectors, more with every vector.
     * Chosen with {@code -Dquantspec.cuda.passGemv=tensor-cores|fp32} (to measure one against the other).
     */
    enum PassGemv { TENSOR_CORES, FP32 }

    static final PassGemv PASS_GEMV = passGemvFromProperty(System.getProperty("quantspec.cuda.passGemv", "tensor-cores"));

    static PassGemv passGemvFromProperty(String value) {
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "tensor-cores" -> PassGemv.TENSOR_CORES;
            case "fp32" -> PassGemv.FP32;
            default -> throw new IllegalArgumentException("quantspec.cuda.passGemv must be tensor-cores or fp32, not '"
                    + value + "'");
        };
    }

    static final int TC_GEMV_THREADS = 512;  // gemv_tc.cuh QS_TC_GEMV_THREADS (16 warps, one 16-row tile per block)
    static final int TC_GEMV_ROWS = 16;
    static final int TC_GEMV_VECTORS = 8;    // the MMA's 8 B columns

    /** One multi-vector GEMV entry point of gemv.cuh and the rows each of its warps reduces. */
    record MultiGemv(String kernel, int rowsPerWarp) {
    }

    /**
     * The multi-vector kernel for n vectors at this shape, measured on an H200 (2026-11-29,
     * native-kernels/bench-results/h200-2026-11-29-gemv-tuning.md). All of them accumulate in the same
     * order, so the choice never changes a bit of the result. n = 1: x staged in shared memory, 2 rows
     * per warp (0.95-1.0x the best single-vector kernel); n = 2: 2 rows per warp; n = 5 (a γ = 4
     * verification): 8 rows per warp and 1 piece in flight for 8192 < rows <= 24576, else 4 rows and 2
     * pieces, picked in a 32-layer verification-pass chain with programmatic launch
     * (native-kernels/gemv-harness/verify_chain.cu: 1.07x the isolated picks at both 7B shapes); other n:
     * 4 rows per warp, 1 piece (not measured).
     */
    static MultiGemv multiGemvFor(int rows, int cols, int n) {
        if (n == 1) return new MultiGemv("qs_gemv_bf16_n1", 2);
        if (n == 2) return new MultiGemv("qs_gemv_bf16_n2", 2);
        if (n == 5) {
            return rows > 8192 && rows <= 24576 ? new MultiGemv("qs_gemv_bf16_n5_r8u1", 8)
                    : new MultiGemv("qs_gemv_bf16_n5_r4u2", 4);
        }
        return new MultiGemv("qs_gemv_bf16_n" + n, 4);
    }

    /**
     * out[j][r] = W[r] . x[j] for j < n, r < rows, reading W once for the n vectors (a verify pass).
     * W bf16 [rows][cols], x fp32 [n][cols] (row j at float offset j * cols, 16-byte aligned), out fp32
     * [n][rows]. Batch-invariant: out[j] is bitwise what this method with n = 1 gives for x[j], so a verify
     * pass and the 1-row passes agree to the bit. With {@link PassGemv#FP32} it is also bitwise
     * {@link #gemvBf16} (any variant); with {@link PassGemv#TENSOR_CORES} (the default) it is within
     * ~6e-7 of sum |w x| of the exact product instead (x as two bf16 parts, fp32 accumulation).
     *
     * @param n 1 .. {@link #MAX_GEMV_VECTORS}
     */
    public void gemvBf16Rows(DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out, int rows, int cols, int n) {
        launchGemvRows(weights, x, out, rows, cols, n, false);
    }

    /**
     * out[j][r] += W[r] . x[j]: {@link #gemvBf16Rows} and the residual add of a pass in one launch (kernel
     * {@code <name>_acc}), bitwise {@link #gemvBf16Rows} into a scratch buffer followed by {@link #addInPlace}.
     * out must not overlap x.
     */
    public void gemvBf16RowsAccumulate(DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out, int rows, int cols,
                                       int n) {
        launchGemvRows(weights, x, out, rows, cols, n, true);
    }

    private void launchGemvRows(DeviceBuffer weights, DeviceBuffer x, DeviceBuffer out, int rows, int cols, int n,
                                boolean accumulate) {
        String shapes = "W " + weights.name() + " bf16[" + rows + "][" + cols + "], x " + x.name() + " f32[" + n + "]["
                + cols + "], out " + (accumulate ? "+= " : "") + out.name() + " f32[" + n + "][" + rows + "]";
        requirePositive(shapes, rows, cols, n);
        if (n > MAX_GEMV_VECTORS) {
            throw new IllegalArgumentException("the multi-vector GEMV is compiled for 1.." + MAX_GEMV_VECTORS
                    + " vectors: " + shapes);
        }
        require(weights, (long) rows * cols * 2, shapes);
        require(x, (long) n * cols * 4, shapes);
        require(out, (long) n * rows * 4, shapes);
        if ((x.address() & 15) != 0) {
            throw new IllegalArgumentException("x must be 16-byte aligned for the vector loads: " + shapes);
        }
        if (accumulate) requireDisjoint(x, (long) n * cols * 4, out, (long) n * rows * 4, shapes);
        if (PASS_GEMV == PassGemv.TENSOR_CORES) {
            // up to 8 vectors per launch (the MMA's B columns); a column's bits do not depend on the others
            for (int j0 = 0; j0 < n; j0 += TC_GEMV_VECTORS) {
                int nj = Math.min(TC_GEMV_VECTORS, n - j0);
                DeviceBuffer xj = j0 == 0 ? x : x.view(x.name() + " from vector " + j0, (long) j0 * cols * 4, (long) nj * cols * 4);
                DeviceBuffer oj = j0 == 0 ? out : out.view(out.name() + " from vector " + j0, (long) j0 * rows * 4, (long) nj * rows * 4);
                try (KernelArgs args = new KernelArgs().buffer(weights).buffer(xj).buffer(oj).i32(rows).i32(cols)) {
                    context.launch("qs_gemv_bf16_tc_n" + nj + (accumulate ? "_acc" : ""), ceilDiv(rows, TC_GEMV_ROWS), 1,
                            TC_GEMV_THREADS, args, shapes);
                }
            }
            return;
        }
        MultiGemv kernel = multiGemvFor(rows, cols, n);
        int rowsPerBlock = (GEMV_THREADS / 32) * kernel.rowsPerWarp();
        try (KernelArgs args = new KernelArgs().buffer(weights).buffer(x).buffer(out).i32(rows).i32(cols)) {
            context.launch(kernel.kernel() + (accumulate ? "_acc" : ""), ceilDiv(rows, rowsPerBlock), 1, GEMV_THREADS,
                    args, shapes);
        }
    }

    // ---------------------------------------------------------------- row kernels of a pass (passrows.cuh)
    // header int[4 + n] on the device: [0] pos0, [1] quantized, [2] bufRow0 = pos0 - quantized, [4 + i] token of
    // row i (see QuantizedDecodeAttention.runAtHeader). Nothing per pass is baked into these launches.

    /** Bytes a pass header of n rows occupies: {@code (4 + n)} ints. */
    public static long headerBytes(int n) {
        return (4L + n) * 4;
    }

    /**
     * out[i][d] = table[header[4 + i]][d] for i < n (qs_prefill_embedding_bf16 with the tokens at header + 4);
     * table bf16 [vocab][dim], out fp32 [n][dim]; a token outside [0, vocab) gives a NaN row.
     */
    public void embeddingRows(DeviceBuffer table, DeviceBuffer header, DeviceBuffer out, int n, int dim, int vocab) {
        String shapes = "table " + table.name() + " bf16[" + vocab + "][" + dim + "], tokens at " + header.name()
                + "[4.." + (4 + n) + "), out f32[" + n + "][" + dim + "]";
        requirePositive(shapes, n, dim, vocab);
        require(table, (long) vocab * dim * 2, shapes);
        require(header, headerBytes(n), shapes);
        require(out, (long) n * dim * 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(table).i64(header.address() + 16).buffer(out).i32(dim).i32(vocab)) {
            context.launch("qs_prefill_embedding_bf16", ceilDiv(dim, ELEMENTWISE_THREADS), n, ELEMENTWISE_THREADS, args,
                    shapes);
        }
    }

    /**
     * RoPE of n rows of a fused QKV activation fp32 [n][rowStride]: row i's q [heads][headDim] at float
     * offset 0 and k [kvHeads][headDim] at heads * headDim, rotated in place at position header[0] + i with
     * the code of {@link #rope} (so a 1-row pass gives its bits). invFreq fp32 [headDim / 2].
     */
    public void ropeRows(DeviceBuffer qkv, int rowStride, DeviceBuffer invFreq, DeviceBuffer header, int n, int heads,
                         int kvHeads, int headDim) {
        String shapes = "qkv f32[" + n + "][" + rowStride + "] with q [" + heads + "][" + headDim + "] then k ["
                + kvHeads + "][" + headDim + "], positions from " + header.name();
        requirePositive(shapes, n, heads, kvHeads, headDim);
        if (headDim % 2 != 0 || headDim > 2048) {
            throw new IllegalArgumentException("RoPE needs an even head dimension up to 2048: " + shapes);
        }
        if (rowStride < (heads + kvHeads) * headDim) {
            throw new IllegalArgumentException("row stride shorter than q and k: " + shapes);
        }
        require(qkv, ((long) (n - 1) * rowStride + (long) (heads + kvHeads) * headDim) * 4, shapes);
        require(invFreq, headDim / 2 * 4L, shapes);
        require(header, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(qkv).i32(rowStride).buffer(invFreq).buffer(header).i32(heads)
                .i32(headDim)) {
            context.launch("qs_rope_rows", n, heads + kvHeads, roundUp(headDim / 2, 32), args, shapes);
        }
    }

    /**
     * Appends the K and V of n rows to the fp16 buffer of {@code kv}: row i's k [kvHeads][headDim] at float
     * offset {@code i * rowStride + kOffset} and v at {@code i * rowStride + vOffset} of {@code qkv} go, rounded
     * to nearest fp16 (as {@link #kvAppend}), to buffer row header[2] + i of every kv head. The caller
     * guarantees header[2] + n <= bufferCapacity (rows past it are skipped, never written out of bounds).
     */
    public void bufferAppendRows(DeviceBuffer qkv, int rowStride, int kOffset, int vOffset, DeviceQuantizedKv kv,
                                 DeviceBuffer header, int n) {
        QuantizedKvLayout l = kv.layout();
        int kvDim = l.kvHeads() * l.headDim();
        String shapes = "qkv f32[" + n + "][" + rowStride + "], k at " + kOffset + ", v at " + vOffset + " (" + kvDim
                + " floats each) -> buffer rows header[2] + 0.." + (n - 1) + " of " + l;
        requirePositive(shapes, n);
        if (kOffset < 0 || vOffset < 0 || kOffset + kvDim > rowStride || vOffset + kvDim > rowStride) {
            throw new IllegalArgumentException("k and v must lie inside a row: " + shapes);
        }
        if (n > l.bufferCapacity()) {
            throw new IllegalArgumentException("more rows than the buffer holds: " + shapes);
        }
        require(qkv, ((long) (n - 1) * rowStride + Math.max(kOffset, vOffset) + kvDim) * 4, shapes);
        require(header, 3 * 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(qkv).i32(rowStride).i32(kOffset).i32(vOffset)
                .buffer(kv.bufferKeys).buffer(kv.bufferValues).buffer(header).i32(l.headDim()).i32(l.bufferCapacity())) {
            context.launch("qs_buffer_append_rows", n, l.kvHeads(), roundUp(l.headDim(), 32), args, shapes);
        }
    }

    /**
     * {@link #ropeRows} then {@link #bufferAppendRows} of the rotated k and the v in one launch (same
     * arithmetic, same bits): row i's q and k at offsets 0 and heads * headDim of {@code qkv} row i are
     * rotated in place at position header[0] + i, and its k and v (at {@code vOffset}) go to buffer row
     * header[2] + i of every kv head of {@code kv}.
     */
    public void ropeAppendRows(DeviceBuffer qkv, int rowStride, int vOffset, DeviceBuffer invFreq, DeviceQuantizedKv kv,
                               DeviceBuffer header, int n, int heads) {
        QuantizedKvLayout l = kv.layout();
        int kvHeads = l.kvHeads(), headDim = l.headDim(), kvDim = kvHeads * headDim;
        String shapes = "qkv f32[" + n + "][" + rowStride + "] with q [" + heads + "][" + headDim + "], k ["
                + kvHeads + "][" + headDim + "], v at " + vOffset + ", positions from " + header.name() + " -> " + l;
        requirePositive(shapes, n, heads);
        if (headDim % 2 != 0 || headDim > 2048) {
            throw new IllegalArgumentException("RoPE needs an even head dimension up to 2048: " + shapes);
        }
        if ((heads + kvHeads) * headDim > rowStride || vOffset < (heads + kvHeads) * headDim
                || vOffset + kvDim > rowStride) {
            throw new IllegalArgumentException("q, k and v must lie inside a row, v after k: " + shapes);
        }
        if (n > l.bufferCapacity()) {
            throw new IllegalArgumentException("more rows than the buffer holds: " + shapes);
        }
        require(qkv, ((long) (n - 1) * rowStride + vOffset + kvDim) * 4, shapes);
        require(invFreq, headDim / 2 * 4L, shapes);
        require(header, 3 * 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(qkv).i32(rowStride).buffer(invFreq).buffer(header).i32(heads)
                .i32(headDim).i32(vOffset).buffer(kv.bufferKeys).buffer(kv.bufferValues).i32(l.bufferCapacity())) {
            context.launch("qs_rope_append_rows", n, heads + kvHeads, roundUp(headDim / 2, 32), args, shapes);
        }
    }

    /**
     * hidden[i][j] = silu(gateUp[i][j]) * gateUp[i][ffn + j] for i < n, j < ffn (the math of {@link #swiglu});
     * gateUp fp32 [n][2 ffn] (gate then up per row), hidden fp32 [n][ffn].
     */
    public void swigluRows(DeviceBuffer gateUp, DeviceBuffer hidden, int n, int ffn) {
        String shapes = "gateUp " + gateUp.name() + " f32[" + n + "][2 x " + ffn + "], hidden f32[" + n + "][" + ffn + "]";
        requirePositive(shapes, n, ffn);
        require(gateUp, (long) n * 2 * ffn * 4, shapes);
        require(hidden, (long) n * ffn * 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(gateUp).buffer(hidden).i32(n).i32(ffn)) {
            context.launch("qs_swiglu_rows", elementwiseBlocks((long) n * ffn), 1, ELEMENTWISE_THREADS, args, shapes);
        }
    }

    /**
     * outIds[i] = index of the first maximum of logits row i (fp32 [n][vocab]; NaNs ignored, -1 when a row
     * has no number), the tie rule of {@link #argmax}; outIds int[n].
     */
    public void argmaxRows(DeviceBuffer logits, int n, int vocab, DeviceBuffer outIds) {
        String shapes = "logits " + logits.name() + " f32[" + n + "][" + vocab + "]";
        requirePositive(shapes, n, vocab);
        require(logits, (long) n * vocab * 4, shapes);
        require(outIds, n * 4L, shapes);
        try (KernelArgs args = new KernelArgs().buffer(logits).i32(vocab).buffer(outIds)) {
            context.launch("qs_argmax_rows", n, 1, ARGMAX_THREADS, args, shapes);
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

    /**
     * {@link #rope} then {@link #kvAppend} in one kernel (qs_rope_kv_append_f16): q fp32 [nHeads][headDim] and
     * k fp32 [nKvHeads][headDim] rotated in place by position, then k and v fp32 [nKvHeads][headDim] written as
     * fp16 to row position of kCache, vCache fp16 [nKvHeads][maxSeq][headDim]. Bitwise the two launches. The
     * caller guarantees position < maxSeq (the kernel appends nothing at others).
     */
    public void ropeKvAppend(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer invFreq, DeviceBuffer position,
                             DeviceBuffer kCache, DeviceBuffer vCache, int nHeads, int nKvHeads, int headDim,
                             int maxSeq) {
        String shapes = "q f32[" + nHeads + "][" + headDim + "], k/v f32[" + nKvHeads + "][" + headDim
                + "], cache f16[" + nKvHeads + "][" + maxSeq + "][" + headDim + "]";
        requirePositive(shapes, nHeads, nKvHeads, headDim, maxSeq);
        if (headDim % 2 != 0 || headDim > 2048) {
            throw new IllegalArgumentException("RoPE needs an even head dimension up to 2048: " + shapes);
        }
        require(q, (long) nHeads * headDim * 4, shapes);
        require(k, (long) nKvHeads * headDim * 4, shapes);
        require(v, (long) nKvHeads * headDim * 4, shapes);
        require(invFreq, headDim / 2 * 4L, shapes);
        require(position, 4, shapes);
        require(kCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        require(vCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        try (KernelArgs args = new KernelArgs().buffer(q).buffer(k).buffer(v).buffer(invFreq).buffer(position)
                .buffer(kCache).buffer(vCache).i32(nHeads).i32(headDim).i32(maxSeq)) {
            context.launch("qs_rope_kv_append_f16", nHeads + nKvHeads, 1, roundUp(headDim / 2, 32), args, shapes);
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

    private int elementwiseBlocks(long n) {
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
