package dev.quantspec.cuda;

import dev.quantspec.kv.HierarchicalCacheConfig;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.Projection;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * QuantSpec's two models on the GPU over one hierarchical KV cache per layer: the target (the bf16
 * weights, INT8 view of the quantized cache) and the draft (the same weights with chosen projections
 * in 4 bits, INT4 view). Both read the fp16 buffer of the newest tokens.
 *
 * <p>A <em>pass</em> runs n consecutive positions through one model: the draft step is a pass of one
 * position, target verification a pass of up to γ+1. Every kernel of a pass reads the pass's
 * positions and tokens from a small device header, so each pass shape is captured once as a CUDA
 * graph and replayed. Every kernel is batch-invariant (a row's result does not depend on the other
 * rows of its pass), so a verification pass gives bit for bit what one-position passes would give:
 * greedy QuantSpec equals step-by-step decoding with the same cache.
 *
 * <p>Cache policy, exactly {@code dev.quantspec.kv.HierarchicalKvCache}'s: the prefill of L tokens
 * runs in full precision (chunked tensor-core prefill into a temporary fp16 cache of L positions);
 * when L > 2G the first L - R - (L mod G) tokens are quantized and the rest go to the buffer; every
 * {@link #accept} flushes the oldest G buffered tokens (CF1) while 2G or more are buffered. Rollback
 * only moves the end of the buffer. The buffer is fp16 where the CPU's is fp32 (quantizing it is
 * bit-identical to the CPU on the same values; the values differ by fp16 rounding).
 */
public final class CudaQuantSpecModel implements AutoCloseable {
    /** Header ints before the pass tokens: pos0, quantized, bufRow0, unused. */
    private static final int HEADER = 4;
    private static final int ROUND_STATUS = 3;  // round int [3] (round.cuh)
    /** Most drafts per round: a round's kernels serve up to 32 rows with one warp. */
    public static final int MAX_GAMMA = 31;

    private final CudaContext context;
    private final CudaKernels kernels;
    private final DeviceKvQuantizer quantizer;
    private final DeviceLlamaWeights weights;
    private final LlamaConfig config;
    private final HierarchicalCacheConfig cacheConfig;
    private final int capacity;
    private final int maxPass;
    private final boolean draftReadsInt8;
    private final int dim, qDim, kvDim, qkvDim, ffn, vocab;
    private final List<AutoCloseable> owned = new ArrayList<>();

    private final DeviceQuantizedKv[] cache;
    private final QuantizedDecodeAttention draftAttention;
    private final QuantizedDecodeAttention verifyAttention;
    private final DeviceQ4Matrix[] draftQkv, draftO, draftGateUp, draftDown; // null entries: the bf16 matrix

    // Pass activations, fp32, [maxPass][...]
    private final DeviceBuffer x, xb, qkv, att, gateUp, hidden, logits;
    private final DeviceBuffer nextIds;       // int [maxPass]: argmax of each row
    private final DeviceBuffer header;        // int [HEADER + maxPass]
    private final DeviceBuffer status;        // int [1]: set by the quantizer on non-finite input
    private final DeviceBuffer round;         // int [HEADER + 2 maxPass]: a greedy round's start, tokens, outcome (round.cuh)
    private final int[] headerHost;
    private final int[] roundHost;
    private final int[] draftToken = new int[1]; // a draft step's input, staged for writeHeader

    private CudaContext.Graph draftGraph;
    private final CudaContext.Graph[] verifyGraphs; // by rows - 1, captured on first use
    private final CudaContext.Graph[] roundGraphs;  // greedy rounds by number of drafts, captured on first use
    private SampledRounds sampled;                  // made on the first sampled round

    private int length;      // positions in the cache
    private int quantized;   // positions [0, quantized) are quantized
    private long quantizeNanos;

    /**
     * @param weights          the target's weights (the caller keeps owning them)
     * @param capacity         most positions a sequence reaches
     * @param gamma            most drafts per round (a verification pass has up to γ+1 rows)
     * @param draftProjections projections the draft holds in 4 bits: q, k and v together, o, gate and up
     *                         together, down (so "mlp", "all", "none" and such unions)
     * @param draftWeightGroup 4-bit weight group along a row
     * @param draftReadsInt8   the draft reads the INT8 view (the "4-bit weights only" ablation)
     */
    public CudaQuantSpecModel(CudaContext context, DeviceLlamaWeights weights, HierarchicalCacheConfig cacheConfig,
                              int capacity, int gamma, Set<Projection> draftProjections, int draftWeightGroup,
                              boolean draftReadsInt8) {
        this.context = context;
        this.kernels = new CudaKernels(context);
        this.quantizer = new DeviceKvQuantizer(context);
        this.weights = weights;
        this.config = weights.config();
        this.cacheConfig = cacheConfig;
        this.capacity = capacity;
        this.maxPass = gamma + 1;
        this.draftReadsInt8 = draftReadsInt8;
        this.dim = config.hiddenSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.qkvDim = qDim + 2 * kvDim;
        this.ffn = config.intermediateSize();
        this.vocab = config.vocabSize();
        if (gamma < 0 || gamma > MAX_GAMMA) {
            throw new IllegalArgumentException("gamma must be in 0.." + MAX_GAMMA + " (a round kernel serves up to 32 rows), got "
                    + gamma);
        }
        checkDraftProjections(draftProjections);
        int layers = config.numLayers();
        int g = cacheConfig.groupSize();
        int bufferCapacity = cacheConfig.steadyBufferCapacity(maxPass);
        QuantizedKvLayout layout = new QuantizedKvLayout(config.numKvHeads(), config.headDim(),
                Math.max(g, CudaKernels.roundUp(capacity, g)), g, cacheConfig.valueGroupSize(), bufferCapacity);
        try {
            cache = new DeviceQuantizedKv[layers];
            for (int l = 0; l < layers; l++) cache[l] = own(new DeviceQuantizedKv(context, layout));
            draftAttention = own(new QuantizedDecodeAttention(context, QuantizedDecodeAttention.View.DRAFT,
                    config.numHeads(), layout));
            verifyAttention = own(new QuantizedDecodeAttention(context, QuantizedDecodeAttention.View.VERIFY,
                    config.numHeads(), layout));
            draftQkv = new DeviceQ4Matrix[layers];
            draftO = new DeviceQ4Matrix[layers];
            draftGateUp = new DeviceQ4Matrix[layers];
            draftDown = new DeviceQ4Matrix[layers];
            for (int l = 0; l < layers; l++) {
                if (draftProjections.contains(Projection.Q)) {
                    draftQkv[l] = own(DeviceQ4Matrix.quantize(context, "layer " + l + " qkv", weights.wqkv[l], qkvDim, dim,
                            draftWeightGroup));
                }
                if (draftProjections.contains(Projection.O)) {
                    draftO[l] = own(DeviceQ4Matrix.quantize(context, "layer " + l + " o", weights.wo[l], dim, qDim,
                            draftWeightGroup));
                }
                if (draftProjections.contains(Projection.GATE)) {
                    draftGateUp[l] = own(DeviceQ4Matrix.quantize(context, "layer " + l + " gate/up", weights.wGateUp[l],
                            2 * ffn, dim, draftWeightGroup));
                }
                if (draftProjections.contains(Projection.DOWN)) {
                    draftDown[l] = own(DeviceQ4Matrix.quantize(context, "layer " + l + " down", weights.wDown[l], dim, ffn,
                            draftWeightGroup));
                }
            }
            x = activation("pass x", dim);
            xb = activation("pass xb", dim);
            qkv = activation("pass qkv", qkvDim);
            att = activation("pass attention output", qDim);
            gateUp = activation("pass gate/up", 2 * ffn);
            hidden = activation("pass mlp hidden", ffn);
            logits = activation("pass logits", vocab);
            nextIds = activation("pass argmax ids", 1);
            header = own(context.allocate("pass header int[" + (HEADER + maxPass) + "]", (HEADER + maxPass) * 4L));
            status = own(context.allocate("quantizer status int[1]", 4));
            round = own(context.allocate("greedy round int[" + (HEADER + 2 * maxPass) + "]", (HEADER + 2L * maxPass) * 4));
            status.fill((byte) 0);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.headerHost = new int[HEADER + maxPass];
        this.roundHost = new int[HEADER + 2 * maxPass];
        this.verifyGraphs = new CudaContext.Graph[maxPass];
        this.roundGraphs = new CudaContext.Graph[maxPass];
    }

    private static void checkDraftProjections(Set<Projection> p) {
        boolean qkv = p.contains(Projection.Q);
        boolean gateUp = p.contains(Projection.GATE);
        if (p.contains(Projection.K) != qkv || p.contains(Projection.V) != qkv || p.contains(Projection.UP) != gateUp) {
            throw new IllegalArgumentException("the CUDA draft keeps q, k and v in one matrix and gate and up in another, "
                    + "so it quantizes them together; draft projections " + p + " split them (use mlp, all, none, "
                    + "or a list with q,k,v and gate,up together)");
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** Positions in the cache. */
    public int length() {
        return length;
    }

    public int quantizedLength() {
        return quantized;
    }

    public int bufferedLength() {
        return length - quantized;
    }

    /** Positions that can still be appended before the next flush (a round must not cross one). */
    public int positionsBeforeViewChange() {
        return cacheConfig.positionsBeforeFlush(bufferedLength());
    }

    /** Most positions a sequence reaches. */
    public int capacity() {
        return capacity;
    }

    /** Rows of the longest verification pass (γ + 1). */
    public int maxPass() {
        return maxPass;
    }

    /** Time spent quantizing (prefill split and flushes), host clock around queued work that is waited for. */
    public long quantizeNanos() {
        return quantizeNanos;
    }

    /**
     * Starts a sequence: the prompt in full precision, then the cache split as the CPU's first accept
     * does. Leaves the last position's logits in row 0.
     *
     * @return the target's greedy next token
     */
    public int prefill(int[] prompt, int prefillChunk) {
        int n = prompt.length;
        if (n == 0) throw new IllegalArgumentException("an empty prompt has no next token");
        if (n + 1 > capacity) {
            throw new IllegalArgumentException("a prompt of " + n + " tokens leaves no room in a cache of " + capacity
                    + " positions");
        }
        for (int i = 0; i < n; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " (" + prompt[i] + ") is outside the vocabulary of "
                        + vocab);
            }
        }
        int layers = config.numLayers();
        DeviceBuffer[] kFull = new DeviceBuffer[layers];
        DeviceBuffer[] vFull = new DeviceBuffer[layers];
        long bytes = (long) kvDim * n * 2;
        String shape = "f16[" + config.numKvHeads() + "][" + n + "][" + config.headDim() + "]";
        try {
            for (int l = 0; l < layers; l++) {
                kFull[l] = context.allocate("prefill keys of layer " + l + " " + shape, bytes);
                vFull[l] = context.allocate("prefill values of layer " + l + " " + shape, bytes);
            }
            try (ChunkedPrefill prefiller = new ChunkedPrefill(context, config, weights.forPrefill(kFull, vFull), n,
                    prefillChunk)) {
                prefiller.run(prompt, 0, x);
            }
            kernels.rmsNorm(x, weights.finalNorm, xb, 1, dim, config.rmsNormEps());
            kernels.gemvBf16Rows(weights.lmHead, xb, logits, vocab, dim, 1);
            kernels.argmaxRows(logits, 1, vocab, nextIds);
            long t0 = System.nanoTime();
            int g = cacheConfig.groupSize();
            int split = cacheConfig.prefillQuantized(n);
            int headStride = n * config.headDim();
            for (int l = 0; l < layers; l++) {
                if (split > 0) {
                    quantizer.quantizeKeys(kFull[l], DeviceKvQuantizer.Source.F16, config.headDim(), headStride, cache[l],
                            0, split / g, status);
                    quantizer.quantizeValues(vFull[l], DeviceKvQuantizer.Source.F16, config.headDim(), headStride,
                            cache[l], 0, split, status);
                }
                quantizer.copyToBuffer(kFull[l], vFull[l], headStride, split, n - split, cache[l]);
            }
            length = n;
            quantized = split;
            DeviceKvQuantizer.checkStatus(status, "the prompt's keys and values");
            flushWhileFull();
            quantizeNanos = System.nanoTime() - t0;
        } finally {
            for (int l = 0; l < layers; l++) {
                if (kFull[l] != null) kFull[l].close();
                if (vFull[l] != null) vFull[l].close();
            }
        }
        return nextIds.downloadInts(1)[0];
    }

    /**
     * One draft step: {@code token} at position {@link #length()} + {@code offset} (its key and value go
     * to the buffer; the next draft step or the verification overwrites them).
     *
     * @return the draft's greedy next token; its logits are in row 0 ({@link #logits(int)})
     */
    public int draftStep(int token, int offset) {
        draftToken[0] = token;
        writeHeader(length + offset, draftToken, 1);
        if (draftGraph == null) draftGraph = context.captureGraph(() -> launchPass(true, 1, true));
        draftGraph.launch();
        return nextIds.downloadInts(1)[0];
    }

    /**
     * Target verification: {@code tokens[0..n)} at positions {@link #length()}, ... in one pass.
     *
     * @return the target's greedy next token after each of the n positions
     */
    public int[] verify(int[] tokens, int n) {
        if (n < 1 || n > maxPass) throw new IllegalArgumentException("a pass has 1.." + maxPass + " rows, not " + n);
        writeHeader(length, tokens, n);
        if (verifyGraphs[n - 1] == null) verifyGraphs[n - 1] = context.captureGraph(() -> launchPass(false, n, true));
        verifyGraphs[n - 1].launch();
        return nextIds.downloadInts(n);
    }

    /**
     * A whole greedy round in one graph launch: {@code drafts} draft steps from {@code input} at
     * position {@link #length()} (each step's input the previous step's argmax), then the target's
     * verification pass over the input and the drafts. The same passes as {@link #draftStep} and
     * {@link #verify}, so the same tokens; one upload and one download per round instead of one per step.
     *
     * @return {@code [drafts]} draft tokens followed by the target's {@code drafts + 1} argmax tokens
     */
    public int[] greedyRound(int input, int drafts) {
        checkRound(input, drafts);
        startRound(input);
        if (roundGraphs[drafts] == null) roundGraphs[drafts] = context.captureGraph(() -> launchRound(drafts));
        roundGraphs[drafts].launch();
        int[] all = round.downloadInts(HEADER + 2 * maxPass);
        int[] out = new int[2 * drafts + 1];
        System.arraycopy(all, HEADER + 1, out, 0, drafts);
        System.arraycopy(all, HEADER + maxPass, out, drafts, drafts + 1);
        return out;
    }

    /** The kernels of a greedy round of {@code drafts} drafts (round.cuh); everything is read from the device. */
    private void launchRound(int drafts) {
        launchRoundPart(drafts, true, true);
    }

    /** A greedy round's draft steps, its verification, or both (the round itself). */
    private void launchRoundPart(int drafts, boolean draftSteps, boolean verification) {
        for (int i = 0; draftSteps && i < drafts; i++) {
            roundHeader(i, 1);
            launchPass(true, 1, true);
            copyInts(nextIds, roundToken(i + 1, 1), 1);
        }
        if (verification) {
            roundHeader(0, drafts + 1);
            launchPass(false, drafts + 1, true);
            copyInts(nextIds, roundOutcome(), drafts + 1);
        }
    }

    /** Round ints [HEADER + row, HEADER + row + n): the round's tokens from {@code row} (0 = the input). */
    private DeviceBuffer roundToken(int row, int n) {
        return round.view("round tokens " + row + ".." + (row + n - 1), (HEADER + row) * 4L, n * 4L);
    }

    /**
     * Round int [3]: a sampled round's failure flag (a row without a finite maximum), zeroed by every
     * {@link #startRound} upload and read back with the round's tokens (no download of its own).
     */
    private DeviceBuffer roundStatus() {
        return round.view("round status", ROUND_STATUS * 4L, 4L);
    }

    private DeviceBuffer roundOutcome() {
        return round.view("round outcome", (HEADER + maxPass) * 4L, maxPass * 4L);
    }

    /**
     * A whole sampled round in one graph launch: {@code drafts} draft steps from {@code input}, each
     * drawing its token on the device from the draft's distribution (kept on the device), then the
     * target's verification pass and the acceptance rule of speculative sampling on the device
     * ({@link DeviceSpeculativeSampling}). {@code uniforms} holds 2·drafts + 1 numbers in [0, 1): the
     * drafts' draws, the accept tests, the final draw. The distributions are the CPU's up to float
     * rounding, so the emitted tokens are distributed as the target's.
     *
     * @return {@code [drafts]} draft tokens, then the drafts accepted, then the round's last token
     * @throws IllegalStateException when a draft's logits had no finite maximum
     */
    public int[] sampledRound(int input, int drafts, float temperature, int topK, float topP, double[] uniforms) {
        checkRound(input, drafts);
        if (uniforms.length != 2 * drafts + 1) {
            throw new IllegalArgumentException("a sampled round of " + drafts + " drafts takes " + (2 * drafts + 1)
                    + " uniform numbers, not " + uniforms.length);
        }
        for (double u : uniforms) {
            if (!(u >= 0.0 && u < 1.0)) throw new IllegalArgumentException("uniform numbers must be in [0, 1), got " + u);
        }
        CudaContext.Graph graph = sampledGraph(drafts, new SampledRounds.Params(temperature, topK, topP));
        startRound(input);
        sampled.upload(uniforms);
        graph.launch();
        int[] all = round.downloadInts(HEADER + 2 * maxPass);
        if (all[ROUND_STATUS] != 0) {  // startRound's next upload clears it
            throw new IllegalStateException("a draft step's logits have no finite maximum (NaN or infinite values): "
                    + "nothing to sample from");
        }
        int[] out = new int[drafts + 2];
        System.arraycopy(all, HEADER + 1, out, 0, drafts);
        out[drafts] = all[HEADER + maxPass];
        out[drafts + 1] = all[HEADER + maxPass + 1];
        return out;
    }

    /** The graph of a sampled round, captured on first use for these parameters. */
    private CudaContext.Graph sampledGraph(int drafts, SampledRounds.Params params) {
        if (sampled == null) {
            sampled = new SampledRounds(context, maxPass, vocab);
        }
        return sampled.graph(params, drafts, () -> launchSampledRound(drafts, params));
    }

    private void launchSampledRound(int drafts, SampledRounds.Params p) {
        DeviceSpeculativeSampling sampling = sampled.sampling();
        for (int i = 0; i < drafts; i++) {
            roundHeader(i, 1);
            launchPass(true, 1, false);
            sampling.distributions(logits, 1, vocab, p.temperature(), p.topK(), p.topP(), sampled.draftRow(i),
                    sampled.uniforms(i, 1), roundToken(i + 1, 1), roundStatus());
        }
        roundHeader(0, drafts + 1);
        launchPass(false, drafts + 1, false);
        sampling.distributions(logits, drafts + 1, vocab, p.temperature(), p.topK(), p.topP(),
                sampled.targetRows(drafts + 1), null, null, roundStatus());
        sampling.verify(roundToken(1, Math.max(1, drafts)), sampled.draftRows(), sampled.targetRows(drafts + 1), drafts,
                vocab, sampled.uniforms(drafts, drafts + 1), roundOutcome());
    }

    private void checkRound(int input, int drafts) {
        if (drafts < 0 || drafts + 1 > maxPass) {
            throw new IllegalArgumentException("a round has 0.." + (maxPass - 1) + " drafts, not " + drafts);
        }
        if (input < 0 || input >= vocab) throw new IllegalArgumentException("token " + input + " is outside the vocabulary of " + vocab);
        if (length + drafts + 1 > capacity) {
            throw new IllegalArgumentException("a round of " + (drafts + 1) + " positions from " + length
                    + " does not fit the cache of " + capacity + " positions");
        }
    }

    /** Uploads a round's start: positions, the cache split and the input token. */
    private void startRound(int input) {
        roundHost[0] = length;
        roundHost[1] = quantized;
        roundHost[2] = length - quantized;
        roundHost[HEADER] = input;
        round.upload(roundHost);
    }

    private void roundHeader(int offset, int tokens) {
        try (KernelArgs args = new KernelArgs().buffer(round).buffer(header).i32(offset).i32(tokens)) {
            context.launch("qs_round_header", 1, 1, 32, args, "round header at row " + offset + ", " + tokens + " tokens");
        }
    }

    private void copyInts(DeviceBuffer src, DeviceBuffer dst, int n) {
        try (KernelArgs args = new KernelArgs().buffer(src).buffer(dst).i32(n)) {
            context.launch("qs_copy_ints", 1, 1, 32, args, n + " ints from " + src.name() + " to " + dst.name());
        }
    }

    /** fp32 logits of the last pass's first {@code rows} rows, [rows][vocab]. */
    public float[] logits(int rows) {
        return logits.downloadFloats(rows * vocab);
    }

    /**
     * Keeps positions [0, newLength) (the accepted tokens; anything past them is rolled back) and
     * flushes CF1 while 2G or more tokens are buffered.
     */
    public void accept(int newLength) {
        if (newLength < length || newLength > length + maxPass) {
            throw new IllegalArgumentException("accept(" + newLength + ") after a round from " + length + " of at most "
                    + maxPass + " positions");
        }
        length = newLength;
        long t0 = System.nanoTime();
        if (flushWhileFull()) quantizeNanos += System.nanoTime() - t0;
    }

    private boolean flushWhileFull() {
        int groups = cacheConfig.groupsToFlush(length - quantized);
        if (groups == 0) return false;
        int tokens = groups * cacheConfig.groupSize();
        int bufStride = cache[0].layout().bufferCapacity() * config.headDim();
        for (DeviceQuantizedKv layer : cache) {
            quantizer.quantizeKeys(layer.bufferKeys(), DeviceKvQuantizer.Source.F16, config.headDim(), bufStride, layer,
                    quantized, groups, status);
            quantizer.quantizeValues(layer.bufferValues(), DeviceKvQuantizer.Source.F16, config.headDim(), bufStride,
                    layer, quantized, tokens, status);
            quantizer.shiftBuffer(layer, tokens, length - quantized - tokens);
        }
        quantized += tokens;
        DeviceKvQuantizer.checkStatus(status, "a flushed group of the buffer");
        return true;
    }

    private void writeHeader(int pos0, int[] tokens, int n) {
        if (pos0 + n > capacity) {
            throw new IllegalArgumentException("positions " + pos0 + ".." + (pos0 + n - 1) + " are outside the cache of "
                    + capacity + " positions");
        }
        headerHost[0] = pos0;
        headerHost[1] = quantized;
        headerHost[2] = pos0 - quantized;
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " is outside the vocabulary of " + vocab);
            }
            headerHost[HEADER + i] = tokens[i];
        }
        header.upload(headerHost);
    }

    /**
     * Every kernel of a pass of {@code n} rows; positions and tokens come from the header (graph-safe).
     * {@code argmax}: each row's argmax into {@code nextIds} (sampled rounds draw from the logits instead).
     * A draft pass (one row) runs its 4-bit qkv and gate/up projections as fused kernels that apply the
     * RMSNorm themselves (qkv also RoPE and the buffer append, gate/up SwiGLU in their epilogue): 4 launches per
     * layer instead of 8.
     */
    private void launchPass(boolean draft, int n, boolean argmax) {
        if (draft && n != 1) throw new IllegalArgumentException("a draft pass has one row, not " + n);
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), headDim = config.headDim();
        float eps = config.rmsNormEps();
        QuantizedDecodeAttention attention = draft && !draftReadsInt8 ? draftAttention : verifyAttention;
        kernels.embeddingRows(weights.embedding, header, x, n, dim, vocab);
        for (int l = 0; l < config.numLayers(); l++) {
            if (draft && draftQkv[l] != null) {  // the draft pass has one row: RMSNorm, GEMV, RoPE, append in one launch
                draftQkv[l].gemvRmsNormRopeAppend(x, weights.attnNorm[l], eps, qkv, weights.invFreq, cache[l], header,
                        heads);
            } else {
                kernels.rmsNorm(x, weights.attnNorm[l], xb, n, dim, eps);
                project(draft, weights.wqkv[l], xb, qkv, qkvDim, dim, n);
                kernels.ropeAppendRows(qkv, qkvDim, qDim + kvDim, weights.invFreq, cache[l], header, n, heads);
            }
            int perLaunch = attention.maxQueriesAtHeader();
            for (int first = 0; first < n; first += perLaunch) {
                int queries = Math.min(perLaunch, n - first);
                DeviceBuffer q = qkv.view("pass q from row " + first, (long) first * qkvDim * 4,
                        ((long) (queries - 1) * qkvDim + qDim) * 4);
                DeviceBuffer out = att.view("pass attention output from row " + first, (long) first * qDim * 4,
                        (long) queries * qDim * 4);
                attention.runAtHeader(q, qkvDim, cache[l], out, header, queries, first);
            }
            projectAccumulate(draft, draft ? draftO[l] : null, weights.wo[l], att, x, dim, qDim, n);  // x += Wo · att
            if (draft && draftGateUp[l] != null) {
                draftGateUp[l].gemvRmsNormSwiglu(x, weights.mlpNorm[l], eps, hidden);
            } else {
                kernels.rmsNorm(x, weights.mlpNorm[l], xb, n, dim, eps);
                project(draft, weights.wGateUp[l], xb, gateUp, 2 * ffn, dim, n);
                kernels.swigluRows(gateUp, hidden, n, ffn);
            }
            projectAccumulate(draft, draft ? draftDown[l] : null, weights.wDown[l], hidden, x, dim, ffn, n);
        }
        kernels.rmsNorm(x, weights.finalNorm, xb, n, dim, eps);
        project(draft, weights.lmHead, xb, logits, vocab, dim, n);
        if (argmax) kernels.argmaxRows(logits, n, vocab, nextIds);
    }

    /**
     * out[n][rows] = W · in[n][cols] in bf16. A target pass uses the pass GEMV ({@link CudaKernels#gemvBf16Rows}, whose
     * rows agree bit for bit with 1-row passes); the draft (one row, no bitwise obligation: the target verifies it)
     * takes the fastest single-vector kernel of the plain decoder instead, which at n = 1 is ~10% faster than the
     * tensor-core pass GEMV (its LM head, and the attention projections of an MLP-only draft).
     */
    private void project(boolean draft, DeviceBuffer bf16, DeviceBuffer in, DeviceBuffer out, int rows, int cols, int n) {
        if (draft) {
            kernels.gemvBf16(bf16, in, out, rows, cols);
        } else {
            kernels.gemvBf16Rows(bf16, in, out, rows, cols, n);
        }
    }

    /**
     * out[n][rows] += W · in[n][cols] (a projection and the residual add in one kernel, bitwise the two): the draft's
     * 4-bit matrix when it has one, else bf16 as {@link #project} picks the kernel.
     */
    private void projectAccumulate(boolean draft, DeviceQ4Matrix q4, DeviceBuffer bf16, DeviceBuffer in, DeviceBuffer out,
                                   int rows, int cols, int n) {
        if (q4 != null) {
            q4.gemvAccumulate(in, out);
        } else if (draft) {
            kernels.gemvBf16Accumulate(bf16, in, out, rows, cols);
        } else {
            kernels.gemvBf16RowsAccumulate(bf16, in, out, rows, cols, n);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Benchmarks: a "filled" cache and timed graph replays, for 7B shapes without a prompt
    // ---------------------------------------------------------------------------------------------

    /**
     * Pretends a sequence of {@code length} positions: {@code length - buffered} quantized positions
     * (a multiple of G) with random codes and params, {@code buffered} random buffer rows. For
     * benchmarks; the contents are not a real model's.
     */
    public void fillRandom(int length, int buffered, long seed) {
        int g = cacheConfig.groupSize();
        int q = length - buffered;
        if (q < 0 || q % g != 0 || buffered < 1 || buffered >= 2 * g || length + maxPass > capacity) {
            throw new IllegalArgumentException("cannot fill " + length + " positions with " + buffered + " buffered (G "
                    + g + ", capacity " + capacity + ")");
        }
        QuantizedKvLayout layout = cache[0].layout();
        short[] keyParams = randomParams(layout.keyParamsBytes() / 2, seed++);
        short[] valueParams = randomParams(layout.valueParamsBytes() / 2, seed++);
        for (DeviceQuantizedKv layer : cache) {
            QuantizedKvLayout l = layer.layout();
            kernels.fillRandomF16(layer.bufferKeys(), l.bufferBytes() / 2, seed++, 0f, 1f);
            kernels.fillRandomF16(layer.bufferValues(), l.bufferBytes() / 2, seed++, 0f, 1f);
            // codes: random bytes via random fp16 bit patterns; params: scale in [0, 0.2), min in [-1.5, -1.3)
            for (DeviceBuffer plane : new DeviceBuffer[] {layer.keyUpper(), layer.keyLower(), layer.valueUpper(),
                    layer.valueLower()}) {
                kernels.fillRandomF16(plane, plane.bytes() / 2, seed++, 0f, 1f);
            }
            layer.keyParams().upload(keyParams);
            layer.valueParams().upload(valueParams);
        }
        context.synchronize();
        this.length = length;
        this.quantized = q;
    }

    /** fp16 (scale, min) pairs: scale in [0.1, 0.2), min in [-1.5, -1.3), so codes give values near [-1.5, 1.5]. */
    private static short[] randomParams(long halves, long seed) {
        if (halves > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many params to fill from the host: " + halves);
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        short[] p = new short[(int) halves];
        for (int i = 0; i < p.length; i += 2) {
            p[i] = HalfFloats.floatToHalf(0.1f + 0.1f * (float) random.nextDouble());
            p[i + 1] = HalfFloats.floatToHalf(-1.5f + 0.2f * (float) random.nextDouble());
        }
        return p;
    }

    /** GPU ms of one draft step (graph replay, median of {@code batches} batches of {@code perBatch}). */
    public double gpuMillisPerDraftStep(int perBatch, int batches) {
        draftStep(0, 0);
        return draftGraph.gpuMillisPerLaunch(perBatch, batches);
    }

    /** GPU ms of one verification pass of {@code n} rows. */
    public double gpuMillisPerVerify(int n, int perBatch, int batches) {
        verify(new int[n], n);
        return verifyGraphs[n - 1].gpuMillisPerLaunch(perBatch, batches);
    }

    /** GPU ms of one greedy round of {@code drafts} drafts and the verification of drafts + 1 rows (one graph). */
    public double gpuMillisPerRound(int drafts, int perBatch, int batches) {
        greedyRound(0, drafts);
        return roundGraphs[drafts].gpuMillisPerLaunch(perBatch, batches);
    }

    /**
     * GPU ms of part of a greedy round captured alone: its {@code drafts} draft steps, or its verification
     * (a diagnostic of where a round's time goes beyond its passes timed one by one).
     */
    double gpuMillisPerRoundPart(int drafts, boolean draftSteps, boolean verification, int perBatch, int batches) {
        checkRound(0, drafts);
        startRound(0);
        try (CudaContext.Graph graph = context.captureGraph(() -> launchRoundPart(drafts, draftSteps, verification))) {
            graph.launch();
            return graph.gpuMillisPerLaunch(perBatch, batches);
        }
    }

    /**
     * GPU ms of one sampled round of {@code drafts} drafts under the given sampling parameters (one graph:
     * the draws, distributions and acceptance rule included).
     */
    public double gpuMillisPerSampledRound(int drafts, float temperature, int topK, float topP, int perBatch, int batches) {
        double[] uniforms = new double[2 * drafts + 1];
        java.util.Arrays.fill(uniforms, 0.5);
        sampledRound(0, drafts, temperature, topK, topP, uniforms);
        return sampledGraph(drafts, new SampledRounds.Params(temperature, topK, topP)).gpuMillisPerLaunch(perBatch, batches);
    }

    /** GPU time of each kernel of one draft step, launched eagerly back to back ({@link LaunchProfile}). */
    public LaunchProfile profileDraftStep() {
        draftToken[0] = 0;
        writeHeader(length, draftToken, 1);
        return context.profileLaunches(() -> launchPass(true, 1, true));
    }

    /** GPU time of each kernel of one verification pass of {@code n} rows. */
    public LaunchProfile profileVerify(int n) {
        writeHeader(length, new int[n], n);
        return context.profileLaunches(() -> launchPass(false, n, true));
    }

    /** Device bytes of the hierarchical cache (planes, params, buffers; all layers). */
    public long cacheBytes() {
        QuantizedKvLayout l = cache[0].layout();
        return (long) cache.length * (4 * l.planeBytes() + l.keyParamsBytes() + l.valueParamsBytes() + 2 * l.bufferBytes());
    }

    /** Device bytes of the draft's 4-bit matrices (codes and params). */
    public long draftWeightBytes() {
        long bytes = 0;
        for (DeviceQ4Matrix[] set : List.of(draftQkv, draftO, draftGateUp, draftDown)) {
            for (DeviceQ4Matrix m : set) if (m != null) bytes += m.bytes();
        }
        return bytes;
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    private DeviceBuffer activation(String name, int perRow) {
        return own(context.allocate(name + " f32[" + maxPass + "][" + perRow + "]", (long) maxPass * perRow * 4));
    }

    /** Frees the cache, the draft's 4-bit matrices, graphs and activations (not the shared target weights). */
    @Override
    public void close() {
        if (draftGraph != null) draftGraph.close();
        if (sampled != null) sampled.close();
        for (CudaContext.Graph[] graphs : java.util.Arrays.asList(verifyGraphs, roundGraphs)) {
            if (graphs != null) {
                for (CudaContext.Graph g : graphs) if (g != null) g.close();
            }
        }
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot free " + owned.get(i), e);
            }
        }
        owned.clear();
    }

    /** The set of projections {@code spec} names, checked against what the CUDA draft can quantize. */
    public static Set<Projection> draftProjections(Set<Projection> spec) {
        Set<Projection> copy = spec.isEmpty() ? EnumSet.noneOf(Projection.class) : EnumSet.copyOf(spec);
        checkDraftProjections(copy);
        return copy;
    }
}
