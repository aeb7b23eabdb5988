package dev.quantspec.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * Attention over the hierarchical KV cache on the GPU, the two views QuantSpec needs:
 * <ul>
 *   <li>{@link View#DRAFT}: INT4 (upper nibbles) + the fp16 buffer, one query per sequence;</li>
 *   <li>{@link View#VERIFY}: INT8 (upper and lower nibbles) + the buffer, gamma + 1 = 5 queries at
 *       once, causal inside the buffer (query i sees the buffer up to {@code bufLen - 5 + i}).</li>
 * </ul>
 * Two launch modes: {@link #run} (host lengths, the benchmarks' and tests' path) and
 * {@link #runAtHeader} (lengths read from a device "pass header", for captured CUDA graphs: the
 * grid always has {@link #maxChunks()} + 1 chunks and the split is derived on the device).
 * Flash-decoding split: the quantized positions are cut into chunks of whole key groups, one block
 * per (chunk, kv head) handles the query heads of that kv head (GQA without re-reading KV per head
 * for the draft), the buffer is one more chunk, and {@code qs_attn_combine} merges the chunks by
 * log-sum-exp. Owns the partial-result buffers for one layer shape; reuse one instance per layer.
 * VERIFY runs version 6 and DRAFT version 7 (tensor cores, quantkv_mma.cuh) by default wherever they are
 * compiled and fit (see {@link #defaultTuning}); versions 1 and 3 are the fallbacks and can be chosen through
 * {@link Tuning}.
 */
public final class QuantizedDecodeAttention implements AutoCloseable {
    /** Which cache view and how many queries. */
    public enum View {
        DRAFT(4, 1), VERIFY(8, 5);

        final int bits;
        /**
         * Queries the kernel is compiled for: 1 for the draft, gamma + 1 = 5 for verification; {@link #run}
         * launches exactly this many, {@link #runAtHeader} 1 up to this many (the same kernel, rows past
         * {@code queries} masked, so a query's bits never depend on the count).
         */
        public final int queries;

        View(int bits, int queries) {
            this.bits = bits;
            this.queries = queries;
        }
    }

    /** How the quantized positions are cut: {@code chunks} chunks of {@code chunkLen} (a multiple of G). */
    public record Split(int chunkLen, int chunks) {}

    /**
     * Which kernel: version 1 (one 4-byte code word per lane and plane, no pipelining: 20-35% of
     * bandwidth in H200 run 1) or version 2 ({@code channelsPerLane} channels per lane, next step's
     * codes loaded before the current one is computed, key weights folded in shared memory) or version 3
     * (the INT4 draft only: version 2 with codes turned into fp16 two at a time and multiplied in half2
     * FMAs; scores and outputs carry ~1e-3 relative fp16 error, far below the INT4 error itself) or
     * version 6 (INT8 verification only, quantkv_mma.cuh: tensor cores, {@code mma.sync} m16n8k16 fp16 x
     * fp16 -> fp32; its parameters are in {@link #mma}, {@code channelsPerLane} and {@code unroll} are 0;
     * build one with {@link #mma(int, int, boolean, int)}) or version 7 (the INT4 draft only, quantkv_mma.cuh:
     * version 6 with the upper planes only, every query head of a kv head in one block; build one with
     * {@link #draftMma(int, int, boolean, int)}). {@link #compiled} lists what is instantiated.
     *
     * @param mma the version-6/7 parameters, null for versions 1-3
     */
    public record Tuning(int version, int channelsPerLane, int unroll, Mma mma) {
        public static final Tuning SIMPLE = new Tuning(1, 8, 4);

        public Tuning {
            if (isMma(version) != (mma != null)) {
                throw new IllegalArgumentException("versions 6 and 7 (and only they) take Mma parameters: version "
                        + version + ", " + mma);
            }
        }

        /** Versions 6 and 7 (quantkv_mma.cuh): tensor cores, two entry points (host lengths and graph). */
        static boolean isMma(int version) {
            return version == 6 || version == 7;
        }

        /** A version 1-3 tuning. */
        public Tuning(int version, int channelsPerLane, int unroll) {
            this(version, channelsPerLane, unroll, null);
        }

        /**
         * A version-6 tuning: the entry points {@code qs_qattn6[g]_b8_h*_g*_p{headsPerBlock}_..._t{mTiles}_f{prefetch}_b{minBlocks}}.
         */
        public static Tuning mma(int headsPerBlock, int mTiles, boolean prefetch, int minBlocks) {
            return new Tuning(6, 0, 0, new Mma(headsPerBlock, mTiles, prefetch, minBlocks));
        }

        /**
         * A version-7 tuning (INT4 draft on tensor cores): the entry points
         * {@code qs_qattn7[g]_b4_h*_g*_p{headsPerBlock}_..._t{mTiles}_f{prefetch}_b{minBlocks}}; quantkv_mma.cuh
         * compiles headsPerBlock = the GQA group only (every head of a kv head in one block, one slice).
         */
        public static Tuning draftMma(int headsPerBlock, int mTiles, boolean prefetch, int minBlocks) {
            return new Tuning(7, 0, 0, new Mma(headsPerBlock, mTiles, prefetch, minBlocks));
        }

        /** Positions one warp handles per step: (32 / lanes per position) * unroll (versions 1-3). */
        int warpSpan(int headDim) {
            return 32 / (headDim / channelsPerLane) * unroll;
        }

        @Override
        public String toString() {
            return mma == null ? "v" + version + " c" + channelsPerLane + " u" + unroll
                    : "v" + version + " p" + mma.headsPerBlock() + " t" + mma.mTiles() + " f" + (mma.prefetch() ? 1 : 0) + " b"
                    + mma.minBlocks();
        }
    }

    /**
     * Versions 6 and 7's compile-time parameters (QS_QATTN6_ENTRIES / QS_QATTN7_ENTRIES in quantkv_mma.cuh).
     *
     * @param headsPerBlock query heads of one kv head in one block (the MMA's N = 8 columns per head: up to 8
     *                      queries x this); the grid has group / headsPerBlock slices per kv head
     * @param mTiles        16-position m-tiles per warp step (the key group must be whole steps)
     * @param prefetch      the next step's codes loaded into registers before the current step is computed
     * @param minBlocks     the {@code __launch_bounds__} minimum blocks per SM (caps the registers)
     */
    public record Mma(int headsPerBlock, int mTiles, boolean prefetch, int minBlocks) {}

    /**
     * The tunings the .cuh files compile for this view, GQA group and head dim: version 1 first, then
     * versions 2-3 (quantkv.cuh), then version 6 (VERIFY) or version 7 (DRAFT) (quantkv_mma.cuh), the preferred
     * one of each family first (the H200 runs of 2026-11-29; bench-results/h200-2026-11-29-mma-verify.md and
     * h200-2026-11-29-mma-draft.md).
     */
    public static List<Tuning> compiled(View view, int group, int headDim) {
        List<Tuning> list = new ArrayList<>(List.of(Tuning.SIMPLE));
        if (view == View.DRAFT) {
            if (group == 2) {
                list.addAll(compiledDraftMma(group, headDim));
                return list;  // GQA 2 (qs-tiny, qs-small): versions 1 and 7 only
            }
            if (headDim == 128 && group == 1) {
                list.addAll(List.of(new Tuning(2, 32, 2), new Tuning(2, 16, 2), new Tuning(2, 16, 4),
                        new Tuning(3, 16, 4), new Tuning(3, 32, 2)));
            } else if (headDim == 128) {
                list.addAll(List.of(new Tuning(2, 8, 4), new Tuning(2, 8, 2), new Tuning(2, 16, 2), new Tuning(3, 8, 4)));
            } else if (group == 1) {
                list.add(new Tuning(2, 16, 2));
            } else {
                list.add(new Tuning(2, 8, 4));
            }
            list.addAll(compiledDraftMma(group, headDim));
            return list;
        }
        if (group != 2) {  // GQA 2: no version 2
            if (headDim == 128) {
                list.addAll(List.of(new Tuning(2, 8, 4), new Tuning(2, 8, 2)));
            } else {
                list.add(new Tuning(2, 8, 2));
            }
        }
        list.addAll(compiledMma(group, headDim));
        return list;
    }

    /** QS_QATTN6_ENTRIES of quantkv_mma.cuh, the H200 winner first (the default). */
    private static List<Tuning> compiledMma(int group, int headDim) {
        if (group != 1 && group != 2 && group != 4) {
            return List.of();
        }
        if (headDim == 64) {
            return List.of(Tuning.mma(1, 1, true, 4));  // the only head-dim-64 instantiation (group 1, 2, 4)
        }
        return switch (group) {
            // t2_f0_b3 fastest at 8K/128K/256K, t1_f0_b4 within 3%; prefetch (f1) 15-20% slower
            case 1 -> List.of(Tuning.mma(1, 2, false, 3), Tuning.mma(1, 1, false, 4), Tuning.mma(1, 1, true, 3),
                    Tuning.mma(1, 2, true, 2));
            // all 4 query heads in one block (24 columns, up to 6 queries; one slice, codes read once): 236.9 us at
            // 256K against p2's 390.2 (2 heads per block, 2 slices per kv head) in the same H200 call
            case 4 -> List.of(Tuning.mma(4, 1, false, 2), Tuning.mma(2, 1, false, 2), Tuning.mma(1, 1, false, 4),
                    Tuning.mma(1, 1, true, 3), Tuning.mma(2, 1, true, 1));
            case 2 -> List.of(Tuning.mma(1, 1, true, 3));  // the only GQA-2 instantiation at head dim 128
            default -> List.of();
        };
    }

    /**
     * QS_QATTN7_ENTRIES of quantkv_mma.cuh: {@code t2_f0_b4} with every head of the kv head in one block, the only
     * variant compiled into the fatbin (the others timed on the H200 were instantiated by the harness only).
     */
    private static List<Tuning> compiledDraftMma(int group, int headDim) {
        if ((group != 1 && group != 2 && group != 4) || (headDim != 64 && headDim != 128)) {
            return List.of();
        }
        return List.of(Tuning.draftMma(group, 2, false, 4));
    }

    /**
     * The tuning used when none is given, from the H200 runs of 2026-11-29 (native-kernels/QUANTKV-NOTES.md):
     * VERIFY: version 6 (tensor cores; 4-5x version 1) wherever it is compiled and fits the layout (value group
     * == head dim, G a multiple of 32), its first compiled variant ({@code t2_f0_b3} for MHA at head dim 128,
     * {@code p4_t1_f0_b2} for GQA 4: all 4 heads per block, up to 6 queries), else version 1. DRAFT: version 7 (tensor cores; H200 at 256K: MHA 424 us
     * against version 3's 580, GQA 4 120 us against version 1's 356; at 8K MHA on par with version 3) wherever it
     * is compiled (GQA 1/2/4, head dim 64/128: {@code t2_f0_b4}, all heads of a kv head per block) and fits the
     * same way as version 6; else version 3 with 16 channels per lane and unroll 4 for MHA at head dim 128 (run 3:
     * 1.2-1.3x version 2's 16/4 at 8K-256K), version 1 everywhere else.
     */
    public static Tuning defaultTuning(View view, QuantizedKvLayout layout, int group) {
        List<Tuning> mma = view == View.VERIFY ? compiledMma(group, layout.headDim())
                : compiledDraftMma(group, layout.headDim());
        for (Tuning t : mma) {
            if (fits(t, layout)) {
                return t;
            }
        }
        return legacyDefault(view, layout, group);
    }

    /** The default among versions 1-3 (what sizes their split; the default before versions 6 and 7). */
    static Tuning legacyDefault(View view, QuantizedKvLayout layout, int group) {
        Tuning mhaDraft = new Tuning(3, 16, 4);
        if (view == View.DRAFT && group == 1 && layout.headDim() == 128 && fits(mhaDraft, layout)) {
            return mhaDraft;
        }
        return Tuning.SIMPLE;
    }

    /**
     * Whether the kernel can serve the layout. Versions 1-3: a lane's channels must lie in one value group,
     * and (version 2, which has no masking in the quantized path) a key group must be whole block steps.
     * Versions 6 and 7: one value group per position (valueGroupSize == headDim: the value scale folds into P)
     * and key groups of whole warp steps (G a multiple of 32 and of 16 x m-tiles).
     */
    static boolean fits(Tuning t, QuantizedKvLayout layout) {
        if (Tuning.isMma(t.version())) {
            int g = layout.groupSize();
            return layout.valueGroupSize() == layout.headDim() && g % 32 == 0 && g % (16 * t.mma().mTiles()) == 0
                    && (layout.headDim() == 64 || layout.headDim() == 128);
        }
        return layout.valueGroupSize() % t.channelsPerLane() == 0
                && (t.version() == 1 || layout.groupSize() % (4 * t.warpSpan(layout.headDim())) == 0);
    }

    /**
     * Quantized chunks for version 6: {@code floor(resident / (kvHeads * slices)) - 1} (at least 1), so the
     * quantized chunks and the buffer chunk together are one wave of resident blocks. The ceil() of versions
     * 1-3 overshoots one wave by a few blocks and so starts a second, partial wave of whole chunks: 25-35%
     * slower for version 6 on the H200 (bench-results/h200-2026-11-29-mma-verify.md, "java" vs "wave").
     */
    static int mmaChunks(int residentBlocks, int kvHeads, int slices) {
        return Math.min(DecodeAttention.MAX_CHUNKS - 1, Math.max(1, residentBlocks / (kvHeads * slices) - 1));
    }

    /**
     * Quantized chunks for version 7 (the draft; one slice per kv head): MHA (group 1)
     * {@code 2 * floor(resident / kvHeads) - 1}, so with the buffer chunk two waves of resident blocks; every other
     * group one wave, {@code floor(resident / kvHeads) - 1} (at least 1 either way). H200
     * (bench-results/h200-2026-11-29-mma-draft.md): MHA gains from more chunks at long context (256K: 433 us at two
     * waves vs 460 at one) and loses little at 8K (29.0 vs 27.3; four waves 42.5), so two waves is the fixed graph
     * split; GQA 4 is best at one wave (256K 120 us; two waves 121, 8K/32K equal or worse). GQA 2 was not timed:
     * one wave, as version 6.
     */
    static int draftMmaChunks(int residentBlocks, int kvHeads, int slices, int group) {
        int perWave = residentBlocks / (kvHeads * slices);
        int chunks = group == 1 ? 2 * perWave - 1 : perWave - 1;
        return Math.min(DecodeAttention.MAX_CHUNKS - 1, Math.max(1, chunks));
    }

    /** Quantized chunks for versions 1-3: {@code ceil(resident / (kvHeads * slices))}, at least 1. */
    static int legacyChunks(int residentBlocks, int kvHeads, int slices) {
        return Math.min(DecodeAttention.MAX_CHUNKS - 1,
                Math.max(1, CudaKernels.ceilDiv(residentBlocks, (long) kvHeads * slices)));
    }

    static final int THREADS = 128;          // quantkv.cuh QATTN_THREADS
    static final int COMBINE_THREADS = 256;  // attention.cuh COMBINE_THREADS

    private final CudaContext context;
    private final View view;
    private final int nHeads;
    private final QuantizedKvLayout layout;
    private final String kernel;              // the host-lengths entry (run)
    private final String graphKernel;         // the header entry (runAtHeader): the same for versions 1-3
    private final Tuning tuning;
    private final int slices;                 // blocks sharing one chunk of one kv head
    private final int maxChunks;              // quantized chunks at most (the buffer chunk comes on top)
    private final DeviceBuffer partialAcc;    // f32 [queries*nHeads][maxChunks+1][headDim]
    private final DeviceBuffer partialMax;    // f32 [queries*nHeads][maxChunks+1]
    private final DeviceBuffer partialSum;    // f32 [queries*nHeads][maxChunks+1]

    public QuantizedDecodeAttention(CudaContext context, View view, int nHeads, QuantizedKvLayout layout) {
        this(context, view, nHeads, layout, defaultTuning(view, layout, Math.max(1, nHeads / layout.kvHeads())), 0);
    }

    /**
     * @param maxChunksOverride if positive, at most this many quantized chunks (tests use it to get
     *                          chunks of many key groups); 0 sizes the split by occupancy
     */
    QuantizedDecodeAttention(CudaContext context, View view, int nHeads, QuantizedKvLayout layout, Tuning tuning,
                             int maxChunksOverride) {
        int group = nHeads / layout.kvHeads();
        if (nHeads % layout.kvHeads() != 0 || (group != 1 && group != 2 && group != 4)) {
            throw new IllegalArgumentException("quantized attention is compiled for GQA groups 1, 2 and 4; " + nHeads
                    + " query heads over " + layout.kvHeads() + " kv heads (add an instantiation in quantkv.cuh)");
        }
        this.context = context;
        this.view = view;
        this.nHeads = nHeads;
        this.layout = layout;
        if (!compiled(view, group, layout.headDim()).contains(tuning) || !fits(tuning, layout)) {
            throw new IllegalArgumentException(tuning + " is not compiled for " + view + " with GQA group " + group
                    + " and head dim " + layout.headDim() + " or does not fit " + layout + " (versions 1-3: value group"
                    + " % channels per lane, G % 4 warp steps; versions 6-7: value group == head dim, G % 32)");
        }
        this.tuning = tuning;
        this.kernel = kernelName(view, group, layout.headDim(), tuning);
        this.graphKernel = graphKernelName(view, group, layout.headDim(), tuning);
        this.slices = slices(view, group, tuning);
        int byOccupancy;
        if (Tuning.isMma(tuning.version())) {
            // Versions 6-7: whole waves of their own kernel's resident blocks (both entries; they share launch bounds).
            int blocksPerSm = Math.max(1, Math.min(context.maxActiveBlocksPerMultiprocessor(kernel, THREADS),
                    context.maxActiveBlocksPerMultiprocessor(graphKernel, THREADS)));
            int resident = context.multiprocessorCount() * blocksPerSm;
            byOccupancy = tuning.version() == 6 ? mmaChunks(resident, layout.kvHeads(), slices)
                    : draftMmaChunks(resident, layout.kvHeads(), slices, group);
        } else {
            // Versions 1-3: sized by the occupancy of the view's default among versions 1-3 whatever tuning
            // this instance runs, so every such instance for one layer shape and view cuts the context the same way.
            String sizing = kernelName(view, group, layout.headDim(), legacyDefault(view, layout, group));
            int blocksPerSm = Math.max(1, context.maxActiveBlocksPerMultiprocessor(sizing, THREADS));
            byOccupancy = legacyChunks(context.multiprocessorCount() * blocksPerSm, layout.kvHeads(), slices);
        }
        // A property of (device, layout, view, tuning) only, never of a launch's queries or firstQuery:
        // runAtHeader's bits depend on the split, and the decoder's batch invariance on that.
        this.maxChunks = maxChunksOverride > 0 ? maxChunksOverride : byOccupancy;
        long rows = (long) maxQueriesAtHeader() * nHeads;
        partialAcc = context.allocate("quantized attention partial sums f32[" + rows + "][" + (maxChunks + 1) + "]["
                + layout.headDim() + "]", rows * (maxChunks + 1) * layout.headDim() * 4);
        partialMax = context.allocate("quantized attention partial max f32[" + rows + "][" + (maxChunks + 1) + "]",
                rows * (maxChunks + 1) * 4);
        partialSum = context.allocate("quantized attention partial sum f32[" + rows + "][" + (maxChunks + 1) + "]",
                rows * (maxChunks + 1) * 4);
    }

    /**
     * Blocks sharing one chunk of one kv head: the draft keeps every head of a kv head in one block; version
     * 1-2 verification one head per block (5 queries x 4 heads do not fit in registers); versions 6-7
     * {@code headsPerBlock} heads per block (version 7: all of them).
     */
    static int slices(View view, int group, Tuning tuning) {
        if (Tuning.isMma(tuning.version())) {
            return group / tuning.mma().headsPerBlock();
        }
        return view == View.DRAFT ? 1 : group;
    }

    /** The host-lengths kernel entry point for a view, GQA group, head dim and tuning (quantkv.cuh, quantkv_mma.cuh). */
    static String kernelName(View view, int group, int headDim, Tuning tuning) {
        if (Tuning.isMma(tuning.version())) {
            Mma m = tuning.mma();
            return "qs_qattn" + tuning.version() + "_b" + view.bits + "_h" + headDim + "_g" + group + "_p" + m.headsPerBlock() + "_q"
                    + view.queries + "_t" + m.mTiles() + "_f" + (m.prefetch() ? 1 : 0) + "_b" + m.minBlocks();
        }
        int headsPerBlock = view == View.DRAFT ? group : 1;
        String family = tuning.version() == 1 ? "qs_qattn_b" : "qs_qattn" + tuning.version() + "_b";
        return family + view.bits + "_h" + headDim + "_g" + group + "_p" + headsPerBlock + "_q" + view.queries
                + (tuning.version() == 1 ? "" : "_c" + tuning.channelsPerLane() + "_u" + tuning.unroll());
    }

    /**
     * The entry point {@link #runAtHeader} launches: versions 6-7's graph entry {@code qs_qattn6g_*} /
     * {@code qs_qattn7g_*} (header, firstQuery, nq, qRowStride, maxChunks), else the host entry in header mode.
     */
    static String graphKernelName(View view, int group, int headDim, Tuning tuning) {
        if (Tuning.isMma(tuning.version())) {
            Mma m = tuning.mma();
            return "qs_qattn" + tuning.version() + "g_b" + view.bits + "_h" + headDim + "_g" + group + "_p" + m.headsPerBlock() + "_t"
                    + m.mTiles() + "_f" + (m.prefetch() ? 1 : 0) + "_b" + m.minBlocks();
        }
        return kernelName(view, group, headDim, tuning);
    }

    /**
     * Quantized chunks at most (the buffer chunk comes on top): {@link #runAtHeader} always launches
     * {@code maxChunks() + 1} chunks per kv head (times the head slices) and the combine reads as many.
     */
    public int maxChunks() {
        return maxChunks;
    }

    /** The chunking of {@code quantized} positions (a multiple of G): about one block per resident slot. */
    public Split split(int quantized) {
        int g = layout.groupSize();
        int chunkLen = Math.max(g, CudaKernels.roundUp(CudaKernels.ceilDiv(quantized, maxChunks), g));
        return new Split(chunkLen, quantized == 0 ? 0 : CudaKernels.ceilDiv(quantized, chunkLen));
    }

    /**
     * out fp32 [queries][nHeads][headDim] = softmax(q K^T / sqrt(headDim)) V, q fp32
     * [queries][nHeads][headDim], over the quantized positions [0, quantized) (a multiple of G) and
     * the first {@code bufLen} buffer rows (the queries' own rows are its last {@code queries}).
     */
    public void run(DeviceBuffer q, DeviceQuantizedKv kv, DeviceBuffer out, int quantized, int bufLen) {
        QuantizedKvLayout l = kv.layout();
        String shapes = view + " q f32[" + view.queries + "][" + nHeads + "][" + l.headDim() + "], " + quantized
                + " quantized + " + bufLen + " buffered positions, " + l;
        if (!l.equals(layout)) {
            throw new IllegalArgumentException("this attention was sized for " + layout + ", not: " + shapes);
        }
        if (quantized < 0 || quantized % l.groupSize() != 0 || quantized > l.maxGroups() * l.groupSize()) {
            throw new IllegalArgumentException("the quantized length must be whole key groups inside the capacity: " + shapes);
        }
        if (bufLen < view.queries || bufLen > l.bufferCapacity()) {
            throw new IllegalArgumentException("the buffer must hold the " + view.queries + " query rows and fit: " + shapes);
        }
        long rows = (long) view.queries * nHeads;
        CudaKernels.require(q, rows * l.headDim() * 4, shapes);
        CudaKernels.require(out, rows * l.headDim() * 4, shapes);
        Split split = split(quantized);
        int chunks = split.chunks() + 1;
        float scaleLog2 = (float) (1.0 / Math.sqrt(l.headDim()) / Math.log(2.0));
        String where = shapes + ", " + split.chunks() + " chunks of " + split.chunkLen() + " + the buffer";
        try (KernelArgs args = new KernelArgs().buffer(q).buffer(kv.keyUpper).buffer(kv.keyLower).buffer(kv.valueUpper)
                .buffer(kv.valueLower).buffer(kv.keyParams).buffer(kv.valueParams).buffer(kv.bufferKeys)
                .buffer(kv.bufferValues).buffer(partialAcc).buffer(partialMax).buffer(partialSum).i32(quantized)
                .i32(bufLen).i32(l.capacity()).i32(l.maxGroups()).i32(l.bufferCapacity()).i32(l.groupSize())
                .i32(l.valueGroupSize()).i32(split.chunkLen()).i32(chunks).f32(scaleLog2).i64(0L).i32(0)
                .i32(view.queries).i32(nHeads * l.headDim())) {
            context.launch(kernel, chunks * slices, l.kvHeads(), THREADS, args, where);
        }
        combine(out, (int) rows, chunks, where);
    }

    private void combine(DeviceBuffer out, int rows, int chunks, String where) {
        try (KernelArgs args = new KernelArgs().buffer(partialAcc).buffer(partialMax).buffer(partialSum).buffer(out)
                .i32(chunks).i32(layout.headDim()).i64(0L).i32(DecodeAttention.CHUNK_GRANULE)) {
            context.launch("qs_attn_combine", rows, 1, COMBINE_THREADS, chunks * 4, args, where);
        }
    }

    /**
     * Graph-safe attention of {@code queries} consecutive rows of a pass, every length read from the
     * device {@code header} (int[4 + n]: [0] pos0, [1] quantized positions (a multiple of G), [2] bufRow0 =
     * the buffer row of the pass's first token; see quantkv.cuh): launch query i is pass row
     * {@code firstQuery + i}; it sees the quantized positions [0, header[1]) and the buffer rows
     * [0, header[2] + firstQuery + i] (its own K/V must have been appended before).
     * The launch (grid {@code (maxChunks() + 1) * slices x kvHeads}, and the combine over
     * {@code maxChunks() + 1} chunks) does not depend on the header, so it can be captured in a graph.
     *
     * <p>Batch-invariant: the output of a query is bitwise the same whatever {@code queries} and
     * {@code firstQuery} it is launched with, given the same visible rows (one kernel per view, rows
     * past {@code queries} masked; the split depends only on header[1] and {@link #maxChunks()}).
     *
     * @param q          fp32; launch query i at float offset {@code i * qRowStride}, holding nHeads x headDim
     * @param qRowStride floats between consecutive queries, at least nHeads * headDim (e.g. the fused QKV row)
     * @param out        fp32 [queries][nHeads][headDim], contiguous
     * @param header     int[4 + n] on the device, as above; the caller guarantees
     *                   header[2] + firstQuery + queries <= bufferCapacity and header[1] <= capacity
     * @param queries    1 for {@link View#DRAFT}, 1..{@link #maxQueriesAtHeader()} for {@link View#VERIFY}
     * @param firstQuery the pass row of launch query 0 (0 for a whole pass)
     */
    public void runAtHeader(DeviceBuffer q, int qRowStride, DeviceQuantizedKv kv, DeviceBuffer out, DeviceBuffer header,
                            int queries, int firstQuery) {
        QuantizedKvLayout l = kv.layout();
        String shapes = view + " " + queries + " queries from pass row " + firstQuery + ", q f32 rows of " + qRowStride
                + " floats holding [" + nHeads + "][" + l.headDim() + "], lengths from " + header.name() + ", " + l;
        if (!l.equals(layout)) {
            throw new IllegalArgumentException("this attention was sized for " + layout + ", not: " + shapes);
        }
        checkPass(view, maxQueriesAtHeader(), nHeads, l, q, qRowStride, out, header, queries, firstQuery, shapes);
        float scaleLog2 = (float) (1.0 / Math.sqrt(l.headDim()) / Math.log(2.0));
        int chunks = maxChunks + 1;
        String where = shapes + ", graph mode: " + maxChunks + " quantized chunks + the buffer";
        if (Tuning.isMma(tuning.version())) {
            // qs_qattn6g_* / qs_qattn7g_*: (..., header, firstQuery, nq, qRowStride, capacity, maxGroups, bufCapacity, groupSize,
            // valueGroupSize, maxChunks, scaleLog2); the chunk length is derived from header[1] on the device
            try (KernelArgs args = new KernelArgs().buffer(q).buffer(kv.keyUpper).buffer(kv.keyLower)
                    .buffer(kv.valueUpper).buffer(kv.valueLower).buffer(kv.keyParams).buffer(kv.valueParams)
                    .buffer(kv.bufferKeys).buffer(kv.bufferValues).buffer(partialAcc).buffer(partialMax)
                    .buffer(partialSum).buffer(header).i32(firstQuery).i32(queries).i32(qRowStride).i32(l.capacity())
                    .i32(l.maxGroups()).i32(l.bufferCapacity()).i32(l.groupSize()).i32(l.valueGroupSize())
                    .i32(maxChunks).f32(scaleLog2)) {
                context.launch(graphKernel, chunks * slices, l.kvHeads(), THREADS, args, where);
            }
            combine(out, queries * nHeads, chunks, where);
            return;
        }
        try (KernelArgs args = new KernelArgs().buffer(q).buffer(kv.keyUpper).buffer(kv.keyLower).buffer(kv.valueUpper)
                .buffer(kv.valueLower).buffer(kv.keyParams).buffer(kv.valueParams).buffer(kv.bufferKeys)
                .buffer(kv.bufferValues).buffer(partialAcc).buffer(partialMax).buffer(partialSum).i32(0)
                .i32(0).i32(l.capacity()).i32(l.maxGroups()).i32(l.bufferCapacity()).i32(l.groupSize())
                .i32(l.valueGroupSize()).i32(0).i32(chunks).f32(scaleLog2).buffer(header).i32(firstQuery)
                .i32(queries).i32(qRowStride)) {
            context.launch(kernel, chunks * slices, l.kvHeads(), THREADS, args, where);
        }
        combine(out, queries * nHeads, chunks, where);
    }

    /**
     * Queries one {@link #runAtHeader} launch may carry: version 6's graph entry takes up to 8 (one n-tile
     * column per query and head slot, qs_qattn6g_*), so a verification of γ + 1 <= 8 rows reads the cache
     * once; with 4 heads per block only 6 (3 n-tiles of 8 columns: qs6::maxQueries in quantkv_mma.cuh); the
     * other versions take what they are compiled for ({@link View#queries}).
     */
    public int maxQueriesAtHeader() {
        if (tuning.version() == 6) {
            return tuning.mma().headsPerBlock() >= 4 ? 6 : 8;
        }
        return view.queries;
    }

    /** The host-side checks of {@link #runAtHeader} for a view's compiled query count (no device needed). */
    static void checkPass(View view, int nHeads, QuantizedKvLayout l, DeviceBuffer q, int qRowStride, DeviceBuffer out,
                          DeviceBuffer header, int queries, int firstQuery, String shapes) {
        checkPass(view, view.queries, nHeads, l, q, qRowStride, out, header, queries, firstQuery, shapes);
    }

    /** The host-side checks of {@link #runAtHeader} (no device needed: only buffer sizes are read). */
    static void checkPass(View view, int maxQueries, int nHeads, QuantizedKvLayout l, DeviceBuffer q, int qRowStride,
                          DeviceBuffer out, DeviceBuffer header, int queries, int firstQuery, String shapes) {
        if (queries < 1 || queries > maxQueries) {
            throw new IllegalArgumentException(view + " launches 1.." + maxQueries + " queries: " + shapes);
        }
        if (firstQuery < 0 || firstQuery + queries > l.bufferCapacity()) {
            throw new IllegalArgumentException("pass rows [" + firstQuery + ", " + (firstQuery + queries)
                    + ") cannot lie in the buffer: " + shapes);
        }
        int rowFloats = nHeads * l.headDim();
        if (qRowStride < rowFloats) {
            throw new IllegalArgumentException("q row stride " + qRowStride + " is shorter than a row of " + rowFloats
                    + " floats: " + shapes);
        }
        CudaKernels.require(q, ((long) (queries - 1) * qRowStride + rowFloats) * 4, shapes);
        CudaKernels.require(out, (long) queries * rowFloats * 4, shapes);
        CudaKernels.require(header, 3 * 4, shapes);
    }

    /** Bytes one {@link #run} reads from the cache: nibble planes, params and buffer rows of the visible positions. */
    public long bytesRead(int quantized, int bufLen) {
        long perTokenPlanes = (long) layout.kvHeads() * layout.headDim() / 2 * (view == View.DRAFT ? 2 : 4);
        long keyParams = (long) layout.kvHeads() * (quantized / layout.groupSize()) * layout.headDim() * QuantizedKvLayout.PARAM_BYTES;
        long valueParams = (long) layout.kvHeads() * quantized * layout.valueGroups() * QuantizedKvLayout.PARAM_BYTES;
        long buffer = 2L * layout.kvHeads() * bufLen * layout.headDim() * 2;
        return perTokenPlanes * quantized + keyParams + valueParams + buffer;
    }

    /** The entry point {@link #run} launches. */
    public String kernelName() {
        return kernel;
    }

    /** The entry point {@link #runAtHeader} launches (versions 6-7: {@code qs_qattn6g_*} / {@code qs_qattn7g_*}; else {@link #kernelName()}). */
    public String graphKernelName() {
        return graphKernel;
    }

    public Tuning tuning() {
        return tuning;
    }

    @Override
    public void close() {
        partialAcc.close();
        partialMax.close();
        partialSum.close();
    }
}
