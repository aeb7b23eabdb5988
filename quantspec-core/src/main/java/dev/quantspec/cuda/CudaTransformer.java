package dev.quantspec.cuda;

import dev.quantspec.model.LlamaConfig;
import dev.quantspec.safetensors.WeightFiles;

import java.util.ArrayList;
import java.util.List;

/**
 * The Llama forward pass on the GPU, one position per call (decode), in the same order as
 * {@code dev.quantspec.cpu.CpuTransformer}: embedding, then per layer RMSNorm, fused QKV GEMV,
 * RoPE, KV append, attention, output projection + residual, RMSNorm, fused gate/up GEMV, SwiGLU,
 * down projection + residual; final RMSNorm, LM head, argmax. bf16 weights, fp32 activations,
 * fp16 KV cache.
 *
 * <p>A step reads its token and position from device memory (the attention derives its split
 * from the position too), so the whole step is captured once as a CUDA graph and replayed for
 * every position: one launch per token instead of ~10 per layer through JavaCPP (20-30 us each).
 * Prompts go through {@link ChunkedPrefill} (chunks of positions as tensor-core GEMMs); the old
 * one-replay-per-position prefill stays behind {@link #setChunkedPrefill} for comparison.
 *
 * <p>{@link #withRandomWeights} builds a model of any Llama shape with random weights on the device
 * (no files), for decode-step benchmarks at 7B scale.
 */
public final class CudaTransformer implements AutoCloseable {
    private final CudaContext context;
    private final CudaKernels kernels;
    private final LlamaConfig config;
    private final int maxSeq;
    private final int dim;
    private final int qDim;
    private final int kvDim;
    private final int ffn;
    private final int vocab;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    private final DeviceLlamaWeights weights;
    private final boolean ownsWeights;
    private final DeviceBuffer embedding, lmHead, finalNorm, invFreq;
    private final DeviceBuffer[] attnNorm, wqkv, wo, mlpNorm, wGateUp, wDown;

    // KV cache, fp16
    private final DeviceBuffer[] kCache;      // [layers][kvHeads][maxSeq][headDim]
    private final DeviceBuffer[] vCache;      // [layers][kvHeads][maxSeq][headDim]

    // Activations, fp32
    private final DeviceBuffer x;             // [dim] residual stream
    private final DeviceBuffer xb;            // [dim] normalised input of a block
    private final DeviceBuffer qkv;           // [qDim + 2 kvDim]
    private final DeviceBuffer q, k, v;       // views of qkv
    private final DeviceBuffer att;           // [qDim]
    private final DeviceBuffer gateUp;        // [2 ffn]
    private final DeviceBuffer gate, up;      // views of gateUp
    private final DeviceBuffer hidden;        // [ffn]
    private final DeviceBuffer logits;        // [vocab]
    private final DeviceBuffer stepInput;     // int [2]: token, position (one upload per step)
    private final DeviceBuffer token;         // int [1], view of stepInput
    private final DeviceBuffer position;      // int [1], view of stepInput
    private final DeviceBuffer nextToken;     // int [1]
    private final DecodeAttention attention;
    private final long weightBytes;           // bytes of weights one step reads
    private final int[] stepHost = new int[2]; // [token, position] staged for the upload
    private boolean useGraph = !Boolean.getBoolean("quantspec.cuda.noGraph");
    private CudaContext.Graph stepGraph;      // captured on first use
    private boolean chunkedPrefill = !Boolean.getBoolean("quantspec.cuda.stepPrefill");
    private int prefillChunk = Integer.getInteger("quantspec.cuda.prefillChunk", DEFAULT_PREFILL_CHUNK);
    private ChunkedPrefill prefiller;         // made on the first chunked prefill (its buffers span the cache)
    private DeviceSampler sampler;            // made on the first sampled token

    /** Positions per prefill chunk: GEMMs of 512 rows keep the H200's tensor cores busy at 7B width. */
    public static final int DEFAULT_PREFILL_CHUNK = 512;

    /** Weights from {@code files} (bf16 safetensors), owned by this model. */
    public CudaTransformer(CudaContext context, LlamaConfig config, WeightFiles files, int maxSeq) {
        this(DeviceLlamaWeights.fromFiles(context, config, files), true, context, maxSeq);
    }

    /**
     * A model of {@code config}'s shape with random bf16 weights made on the device: projections
     * uniform in [-0.02, 0.02) (like the PyTorch peer), norms 1; for benchmarks only.
     */
    public static CudaTransformer withRandomWeights(CudaContext context, LlamaConfig config, int maxSeq, long seed) {
        return new CudaTransformer(DeviceLlamaWeights.random(context, config, seed), true, context, maxSeq);
    }

    /** A model over {@code weights}, which the caller keeps owning (and closes after this model). */
    public CudaTransformer(CudaContext context, DeviceLlamaWeights weights, int maxSeq) {
        this(weights, false, context, maxSeq);
    }

    private CudaTransformer(DeviceLlamaWeights weights, boolean ownsWeights, CudaContext context, int maxSeq) {
        this.context = context;
        this.kernels = new CudaKernels(context);
        this.config = weights.config();
        this.weights = weights;
        this.ownsWeights = ownsWeights;
        this.maxSeq = maxSeq;
        this.dim = config.hiddenSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.ffn = config.intermediateSize();
        this.vocab = config.vocabSize();
        int layers = config.numLayers();
        embedding = weights.embedding;
        lmHead = weights.lmHead;
        finalNorm = weights.finalNorm;
        invFreq = weights.invFreq;
        attnNorm = weights.attnNorm;
        wqkv = weights.wqkv;
        wo = weights.wo;
        mlpNorm = weights.mlpNorm;
        wGateUp = weights.wGateUp;
        wDown = weights.wDown;
        try {
            if (maxSeq <= 0) throw new IllegalArgumentException("the KV cache needs at least one position, not " + maxSeq);
            kCache = new DeviceBuffer[layers];
            vCache = new DeviceBuffer[layers];
            long cacheBytes = (long) kvDim * maxSeq * 2;
            for (int l = 0; l < layers; l++) {
                kCache[l] = own(context.allocate("layer " + l + " key cache f16[" + config.numKvHeads() + "][" + maxSeq
                        + "][" + config.headDim() + "]", cacheBytes));
                vCache[l] = own(context.allocate("layer " + l + " value cache f16[" + config.numKvHeads() + "][" + maxSeq
                        + "][" + config.headDim() + "]", cacheBytes));
            }
            x = activation("x", dim);
            xb = activation("xb", dim);
            qkv = activation("qkv", qDim + 2 * kvDim);
            q = qkv.view("q", 0, qDim * 4L);
            k = qkv.view("k", qDim * 4L, kvDim * 4L);
            v = qkv.view("v", (qDim + kvDim) * 4L, kvDim * 4L);
            att = activation("attention output", qDim);
            gateUp = activation("gate/up", 2 * ffn);
            gate = gateUp.view("gate", 0, ffn * 4L);
            up = gateUp.view("up", ffn * 4L, ffn * 4L);
            hidden = activation("mlp hidden", ffn);
            logits = activation("logits", vocab);
            stepInput = own(context.allocate("step input int[2] (token, position)", 8));
            token = stepInput.view("token", 0, 4);
            position = stepInput.view("position", 4, 4);
            nextToken = activation("next token", 1);
            attention = new DecodeAttention(context, config.numHeads(), config.numKvHeads(), config.headDim());
        } catch (RuntimeException e) {
            for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
            if (ownsWeights) weights.close();
            throw e;
        }
        this.weightBytes = weights.stepBytes();
    }

    public LlamaConfig config() {
        return config;
    }

    /** Maximum positions of the KV cache. */
    public int maxSeq() {
        return maxSeq;
    }

    /** Bytes of weights one decode step reads (every matrix and norm once, one embedding row). */
    public long weightBytes() {
        return weightBytes;
    }

    /** Bytes of KV cache one decode step at context length {@code contextLength} reads (keys and values, fp16). */
    public long kvBytes(int contextLength) {
        return 2L * config.numLayers() * kvDim * contextLength * 2;
    }

    /** Graph replay (default) or launches kernel by kernel (slower; for comparison and debugging). */
    public void setUseGraph(boolean useGraph) {
        this.useGraph = useGraph;
    }

    /**
     * Runs {@code tokenId} at {@code pos} (its key and value are appended to the cache) and leaves the
     * logits of the next token on the device. Positions must be fed in order from 0.
     *
     * @return the greedy next token (argmax of the logits, computed on the device)
     */
    public int step(int tokenId, int pos) {
        enqueue(tokenId, pos);
        return nextToken.downloadInts(1)[0];
    }

    /**
     * Feeds {@code tokens} at positions {@code start, start + 1, ...} and returns the greedy token after
     * the last one (its logits stay on the device, as after {@link #step}). Chunked prefill by default:
     * chunks of {@link #prefillChunk()} positions as tensor-core GEMMs, logits for the last position only;
     * with {@code setChunkedPrefill(false)} one decode-graph replay per position.
     */
    public int prefill(int[] tokens, int start) {
        if (tokens.length == 0) throw new IllegalArgumentException("an empty prompt has no next token");
        if (!chunkedPrefill) {
            for (int i = 0; i < tokens.length; i++) {
                enqueue(tokens[i], start + i);
            }
            return nextToken.downloadInts(1)[0];
        }
        if (start < 0 || (long) start + tokens.length > maxSeq) {
            throw new IllegalArgumentException("a prompt of " + tokens.length + " tokens at position " + start
                    + " does not fit the cache of " + maxSeq + " positions");
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " (" + tokens[i] + ") is outside the vocabulary of "
                        + vocab);
            }
        }
        if (prefiller == null || prefiller.chunk() != Math.min(prefillChunk, maxSeq)) {
            if (prefiller != null) prefiller.close();
            prefiller = new ChunkedPrefill(context, config, weights.forPrefill(kCache, vCache), maxSeq, prefillChunk);
        }
        prefiller.run(tokens, start, x);
        // the last position's logits exactly as a decode step makes them from its residual stream
        kernels.rmsNorm(x, finalNorm, xb, 1, dim, config.rmsNormEps());
        kernels.gemvBf16(lmHead, xb, logits, vocab, dim);
        kernels.argmax(logits, vocab, nextToken);
        return nextToken.downloadInts(1)[0];
    }

    /** Chunked tensor-core prefill (default) or one decode step per prompt position (the old path). */
    public void setChunkedPrefill(boolean chunked) {
        this.chunkedPrefill = chunked;
    }

    /** Positions per chunk of chunked prefill (default {@link #DEFAULT_PREFILL_CHUNK}, capped at the cache size). */
    public void setPrefillChunk(int positions) {
        if (positions <= 0) throw new IllegalArgumentException("a prefill chunk needs at least one position, not " + positions);
        this.prefillChunk = positions;
    }

    public int prefillChunk() {
        return Math.min(prefillChunk, maxSeq);
    }

    /**
     * GPU time of a chunked prefill of {@code tokens} at position 0, in ms (events around the whole
     * call, uploads included); the cache positions it covers are overwritten.
     */
    public double gpuMillisForPrefill(int[] tokens) {
        try (CudaContext.Event begin = context.recordEvent()) {
            prefill(tokens, 0);
            try (CudaContext.Event end = context.recordEvent()) {
                return end.millisSince(begin);
            }
        }
    }

    /** Queues one step; the upload of {token, position} waits for the previous step to finish with them. */
    private void enqueue(int tokenId, int pos) {
        uploadStepInput(tokenId, pos);
        if (useGraph) {
            if (stepGraph == null) stepGraph = context.captureGraph(this::launchStep);
            stepGraph.launch();
        } else {
            launchStep();
        }
    }

    /** The step's token and position, checked, into the device memory its kernels read them from. */
    private void uploadStepInput(int tokenId, int pos) {
        if (pos < 0 || pos >= maxSeq) {
            throw new IllegalArgumentException("position " + pos + " is outside the cache of " + maxSeq + " positions");
        }
        if (tokenId < 0 || tokenId >= vocab) {
            throw new IllegalArgumentException("token " + tokenId + " is outside the vocabulary of " + vocab);
        }
        stepHost[0] = tokenId;
        stepHost[1] = pos;
        stepInput.upload(stepHost);
    }

    /** Every kernel of one step; token and position are read from device memory (graph-safe). */
    private void launchStep() {
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), headDim = config.headDim();
        float eps = config.rmsNormEps();
        kernels.embedding(embedding, token, x, dim, vocab);
        for (int l = 0; l < config.numLayers(); l++) {
            // attention block: x += Wo · attention(rope(q), rope(k), v)
            kernels.rmsNorm(x, attnNorm[l], xb, 1, dim, eps);
            kernels.gemvBf16(wqkv[l], xb, qkv, qDim + 2 * kvDim, dim);
            kernels.ropeKvAppend(q, k, v, invFreq, position, kCache[l], vCache[l], heads, kvHeads, headDim, maxSeq);
            attention.runAtDevicePosition(q, kCache[l], vCache[l], att, position, maxSeq);
            kernels.gemvBf16Accumulate(wo[l], att, x, dim, qDim);  // x += Wo · att, bitwise GEMV then add
            // MLP block: x += Wdown · (silu(Wgate · xb) * (Wup · xb))
            kernels.rmsNorm(x, mlpNorm[l], xb, 1, dim, eps);
            kernels.gemvBf16(wGateUp[l], xb, gateUp, 2 * ffn, dim);
            kernels.swiglu(gate, up, hidden, ffn);
            kernels.gemvBf16Accumulate(wDown[l], hidden, x, dim, ffn);
        }
        kernels.rmsNorm(x, finalNorm, xb, 1, dim, eps);
        kernels.gemvBf16(lmHead, xb, logits, vocab, dim);
        kernels.argmax(logits, vocab, nextToken);
    }

    /** Fills every position of the KV cache with random fp16 values in [-1, 1) (benchmarks: a "filled" context). */
    public void fillCacheRandom(long seed) {
        for (int l = 0; l < config.numLayers(); l++) {
            kernels.fillRandomF16(kCache[l], kCache[l].bytes() / 2, seed + 2L * l, 0f, 1f);
            kernels.fillRandomF16(vCache[l], vCache[l].bytes() / 2, seed + 2L * l + 1, 0f, 1f);
        }
        context.synchronize();
    }

    /**
     * GPU time of one decode step at {@code pos} (attending pos + 1 positions), in ms: the median of
     * {@code batches} batches of {@code perBatch} graph replays timed with events. The step rewrites
     * the cache row at {@code pos} each time, nothing else.
     */
    public double gpuMillisPerStep(int pos, int perBatch, int batches) {
        boolean wasGraph = useGraph;
        useGraph = true;
        try {
            enqueue(0, pos);
            return stepGraph.gpuMillisPerLaunch(perBatch, batches);
        } finally {
            useGraph = wasGraph;
        }
    }

    /** GPU time of each kernel of the step at {@code pos}, launched eagerly back to back ({@link LaunchProfile}). */
    public LaunchProfile profileStep(int pos) {
        uploadStepInput(0, pos);
        return context.profileLaunches(this::launchStep);
    }

    /** The logits of the last {@link #step} (fp32 [vocab]). */
    public float[] logits() {
        return logits.downloadFloats(vocab);
    }

    /**
     * Draws the next token from the logits of the last {@link #step} or {@link #prefill} on the device
     * ({@link DeviceSampler}: temperature, top-k, top-p, then the draw with {@code u} in [0, 1), the
     * CPU's {@code TokenDistribution} up to float rounding); 4 bytes come back instead of the logits.
     * The sampler (an int[1] on the device) is made on the first call and kept.
     */
    public int sampleNext(float temperature, int topK, float topP, double u) {
        if (sampler == null) sampler = new DeviceSampler(context);
        return sampler.sample(logits, vocab, temperature, topK, topP, u);
    }

    private DeviceBuffer own(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private DeviceBuffer activation(String name, int floats) {
        return own(context.allocate(name + " f32[" + floats + "]", floats * 4L));
    }

    /** Frees the cache and activations, and the weights when this model owns them. */
    @Override
    public void close() {
        if (stepGraph != null) stepGraph.close();
        if (prefiller != null) prefiller.close();
        if (sampler != null) sampler.close();
        attention.close();
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        if (ownsWeights) weights.close();
    }
}
