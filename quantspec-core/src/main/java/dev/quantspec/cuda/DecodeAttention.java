package dev.quantspec.cuda;

/**
 * Attention of one query position over an fp16 KV cache, split across the GPU (flash-decoding):
 * the context is cut into chunks, one block per (chunk, kv head) handles all GROUP query heads of
 * that kv head, and a second kernel merges the chunks by log-sum-exp. Owns the partial-result
 * buffers for one layer shape; reuse one instance for every layer.
 */
public final class DecodeAttention implements AutoCloseable {
    static final int PARTIAL_THREADS = 128;  // attention.cuh ATTN_THREADS
    static final int COMBINE_THREADS = 256;  // attention.cuh COMBINE_THREADS
    /** The combine kernel keeps one weight per chunk in dynamic shared memory (48 KB without opt-in, minus its static 4.2 KB). */
    static final int MAX_CHUNKS = 10_000;
    /** Chunk lengths are multiples of this: the positions a block's 4 warps cover in one step at d=128, unroll 8. */
    static final int CHUNK_GRANULE = 64;

    /** How the context is cut: {@code numChunks} chunks of {@code chunkLen} positions (the last may be shorter). */
    public record Split(int chunkLen, int numChunks) {}

    /**
     * Launch choices, kept apart so the benchmark can compare them.
     *
     * @param waves       waves of resident blocks the split aims for (1 = one block per slot the
     *                    occupancy calculator gives; more gives smaller chunks)
     * @param unroll      positions each lane group loads before using them (4; 8 is compiled for
     *                    head dim 128 with GQA group 1 or 4)
     * @param minChunkLen the shortest chunk (a multiple of {@link #CHUNK_GRANULE}): short contexts
     *                    then use fewer, fuller blocks, so the per-block merge costs less
     */
    public record Tuning(int waves, int unroll, int minChunkLen) {
        public static final Tuning DEFAULT = new Tuning(1, 4, CHUNK_GRANULE);

        public Tuning {
            if (waves < 1 || (unroll != 4 && unroll != 8) || minChunkLen < CHUNK_GRANULE
                    || minChunkLen % CHUNK_GRANULE != 0) {
                throw new IllegalArgumentException("bad attention tuning: waves " + waves + ", unroll " + unroll
                        + ", minChunkLen " + minChunkLen);
            }
        }
    }

    private final CudaContext context;
    private final int nHeads;
    private final int nKvHeads;
    private final int headDim;
    private final String partialKernel;
    private final int maxChunks;
    private final int targetBlocks;
    private final int minChunkLen;
    private final DeviceBuffer partialAcc;  // f32 [nHeads][maxChunks][headDim]
    private final DeviceBuffer partialMax;  // f32 [nHeads][maxChunks]
    private final DeviceBuffer partialSum;  // f32 [nHeads][maxChunks]

    public DecodeAttention(CudaContext context, int nHeads, int nKvHeads, int headDim, Tuning tuning) {
        if (nHeads <= 0 || nKvHeads <= 0 || nHeads % nKvHeads != 0) {
            throw new IllegalArgumentException("query heads (" + nHeads + ") must be a positive multiple of kv heads ("
                    + nKvHeads + ")");
        }
        int group = nHeads / nKvHeads;
        if ((headDim != 64 && headDim != 128) || (group != 1 && group != 2 && group != 4 && group != 8)) {
            throw new IllegalArgumentException("decode attention is compiled for head dim 64 or 128 and GQA groups "
                    + "1, 2, 4, 8; this model has head dim " + headDim + " and group " + group
                    + " (add an instantiation in attention.cuh)");
        }
        this.context = context;
        this.nHeads = nHeads;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
        if (tuning.unroll() == 8 && !(headDim == 128 && (group == 1 || group == 4))) {
            throw new IllegalArgumentException("unroll 8 is compiled only for head dim 128 with GQA group 1 or 4");
        }
        this.partialKernel = "qs_attn_partial_h" + headDim + "_g" + group + "_u" + tuning.unroll();
        this.minChunkLen = tuning.minChunkLen();
        int blocksPerSm = Math.max(1, context.maxActiveBlocksPerMultiprocessor(partialKernel, PARTIAL_THREADS));
        this.targetBlocks = context.multiprocessorCount() * blocksPerSm * tuning.waves();
        this.maxChunks = Math.min(MAX_CHUNKS, Math.max(1, CudaKernels.ceilDiv(targetBlocks, nKvHeads)));
        this.partialAcc = context.allocate("attention partial sums f32[" + nHeads + "][" + maxChunks + "][" + headDim + "]",
                (long) nHeads * maxChunks * headDim * 4);
        this.partialMax = context.allocate("attention partial max f32[" + nHeads + "][" + maxChunks + "]",
                (long) nHeads * maxChunks * 4);
        this.partialSum = context.allocate("attention partial sum f32[" + nHeads + "][" + maxChunks + "]",
                (long) nHeads * maxChunks * 4);
    }

    public DecodeAttention(CudaContext context, int nHeads, int nKvHeads, int headDim) {
        this(context, nHeads, nKvHeads, headDim, Tuning.DEFAULT);
    }

    /** The chunking for a context of {@code seqLen} positions: about one block per resident slot. */
    public Split split(int seqLen) {
        int chunkLen = Math.max(minChunkLen, CudaKernels.roundUp(CudaKernels.ceilDiv(seqLen, maxChunks), CHUNK_GRANULE));
        return new Split(chunkLen, CudaKernels.ceilDiv(seqLen, chunkLen));
    }

    /**
     * out fp32 [nHeads][headDim] = softmax(q K^T / sqrt(headDim)) V over positions [0, seqLen) of
     * the caches fp16 [nKvHeads][maxSeq][headDim]; q fp32 [nHeads][headDim].
     */
    public void run(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer out, int seqLen, int maxSeq) {
        String shapes = "q f32[" + nHeads + "][" + headDim + "], cache f16[" + nKvHeads + "][" + maxSeq + "]["
                + headDim + "], seqLen " + seqLen;
        if (seqLen <= 0 || seqLen > maxSeq) {
            throw new IllegalArgumentException("seqLen must be in [1, maxSeq]: " + shapes);
        }
        CudaKernels.require(q, (long) nHeads * headDim * 4, shapes);
        CudaKernels.require(kCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        CudaKernels.require(vCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        CudaKernels.require(out, (long) nHeads * headDim * 4, shapes);
        Split split = split(seqLen);
        launch(q, kCache, vCache, out, 0L, seqLen, maxSeq, split.numChunks(), split.chunkLen(),
                shapes + ", " + split.numChunks() + " chunks of " + split.chunkLen());
    }

    /**
     * As {@link #run}, over positions [0, lastPosition[0]] where {@code lastPosition} int[1] lives on
     * the device: the launch does not depend on the context length, so a captured CUDA graph serves
     * every decode step. The kernels derive the same split as {@link #split} from the device value;
     * the grid always has the maximum number of chunks and the blocks past the last chunk return at once.
     * The caller guarantees lastPosition[0] < maxSeq.
     */
    public void runAtDevicePosition(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer out,
                                    DeviceBuffer lastPosition, int maxSeq) {
        String shapes = "q f32[" + nHeads + "][" + headDim + "], cache f16[" + nKvHeads + "][" + maxSeq + "]["
                + headDim + "], context length from " + lastPosition.name();
        CudaKernels.require(q, (long) nHeads * headDim * 4, shapes);
        CudaKernels.require(kCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        CudaKernels.require(vCache, (long) nKvHeads * maxSeq * headDim * 2, shapes);
        CudaKernels.require(out, (long) nHeads * headDim * 4, shapes);
        CudaKernels.require(lastPosition, 4, shapes);
        launch(q, kCache, vCache, out, lastPosition.address(), 0, maxSeq, maxChunks, minChunkLen, shapes);
    }

    /** lastPosition 0: host mode (numChunks, chunkLen are the split); else graph mode (maxChunks, minChunkLen). */
    private void launch(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer out, long lastPosition,
                        int seqLen, int maxSeq, int chunks, int chunkLen, String shapes) {
        float scaleLog2 = (float) (1.0 / Math.sqrt(headDim) / Math.log(2.0));
        try (KernelArgs args = new KernelArgs().buffer(q).buffer(kCache).buffer(vCache).buffer(partialAcc)
                .buffer(partialMax).buffer(partialSum).i64(lastPosition).i32(seqLen).i32(maxSeq).i32(chunkLen)
                .f32(scaleLog2)) {
            context.launch(partialKernel, chunks, nKvHeads, PARTIAL_THREADS, args, shapes);
        }
        try (KernelArgs args = new KernelArgs().buffer(partialAcc).buffer(partialMax).buffer(partialSum).buffer(out)
                .i32(chunks).i32(headDim).i64(lastPosition).i32(minChunkLen)) {
            context.launch("qs_attn_combine", nHeads, 1, COMBINE_THREADS, chunks * 4, args, shapes);
        }
    }

    @Override
    public void close() {
        partialAcc.close();
        partialMax.close();
        partialSum.close();
    }
}
