package dev.quantspec.generate;

import dev.quantspec.ContextLengthExceededException;
import dev.quantspec.EngineOptions;
import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.cuda.CudaQuantSpecModel;
import dev.quantspec.cuda.CudaTransformer;
import dev.quantspec.kv.FullPrecisionKvCache;
import dev.quantspec.kv.HierarchicalKvCache;
import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvShape;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.LlamaWeights;
import dev.quantspec.tokenizer.Tokenizer;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Runs requests on one loaded model. Every request gets its own cache and activations; forward
 * passes share the weights and the CPU worker pool, so requests run one at a time in arrival order
 * (a fair lock is the queue).
 */
public final class Generator {
    private final LlamaConfig config;
    private final CpuTransformer model;
    private final LlamaWeights target;
    private final Supplier<LlamaWeights> draft;
    private final Tokenizer tokenizer;
    private final EngineOptions options;
    private final int contextLength;
    private final ReentrantLock queue = new ReentrantLock(true);
    private CudaTransformer gpu; // when set, requests run on the GPU (see useGpu)
    private Supplier<CudaQuantSpecModel> gpuQuantSpec;

    public Generator(LlamaConfig config, CpuTransformer model, LlamaWeights target, Supplier<LlamaWeights> draft,
                     Tokenizer tokenizer, EngineOptions options, int contextLength) {
        this.config = config;
        this.model = model;
        this.target = target;
        this.draft = draft;
        this.tokenizer = tokenizer;
        this.options = options;
        this.contextLength = contextLength;
    }

    /**
     * Runs requests on the GPU: autoregressive ones with the full-precision cache on {@code model}
     * (its KV cache must hold the context length); QuantSpec ones, and autoregressive ones with the
     * hierarchical cache (QuantSpec with γ = 0), on the model {@code quantSpec} supplies on first use.
     */
    public void useGpu(CudaTransformer model, Supplier<CudaQuantSpecModel> quantSpec) {
        if (model.maxSeq() < contextLength) {
            throw new IllegalArgumentException("the GPU model's KV cache holds " + model.maxSeq()
                    + " positions, fewer than the context length " + contextLength);
        }
        this.gpu = model;
        this.gpuQuantSpec = quantSpec;
    }

    public int contextLength() {
        return contextLength;
    }

    /**
     * Generates a continuation of {@code req.promptIds()}.
     *
     * @throws ContextLengthExceededException when prompt + max new tokens exceed the context
     * @throws IllegalArgumentException       for a prompt id outside the vocabulary
     */
    public GenerationResult generate(GenerationRequest req, GenerationListener listener, BooleanSupplier cancelled) {
        int[] prompt = req.promptIds();
        for (int id : prompt) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
        }
        if (prompt.length + req.maxNewTokens() > contextLength) {
            throw new ContextLengthExceededException(prompt.length, req.maxNewTokens(), contextLength);
        }
        int gamma = req.gamma() > 0 ? req.gamma() : options.gamma();
        boolean quantSpec = req.decoder() == DecoderKind.QUANTSPEC;
        boolean hierarchical = quantSpec || req.kvCache() == KvCacheKind.HIERARCHICAL;
        if (gpu != null) {
            CudaQuantSpecModel gpuModel = hierarchical ? gpuQuantSpec.get() : null; // built outside the queue on first use
            int gpuGamma = quantSpec ? gamma : 0;
            if (gpuModel != null && gpuGamma + 1 > gpuModel.maxPass()) {
                throw new IllegalArgumentException("gamma " + gamma + " is above the " + (gpuModel.maxPass() - 1)
                        + " the GPU QuantSpec model was built for (engine option gamma sets it)");
            }
            queue.lock();
            try {
                TokenPicker picker = new TokenPicker(req.sampling(), config.vocabSize());
                DecodeStats stats = new DecodeStats(quantSpec ? "quantspec/cuda"
                        : "autoregressive/" + (hierarchical ? "hierarchical" : "full") + "/cuda");
                TokenEmitter emitter = emitter(req, listener, cancelled);
                Decoder decoder = hierarchical
                        ? new CudaQuantSpecDecoder(gpuModel, picker, gpuGamma, CudaTransformer.DEFAULT_PREFILL_CHUNK)
                        : new CudaAutoregressiveDecoder(gpu, picker);
                decoder.run(prompt, emitter, stats);
                return result(prompt, emitter, stats);
            } finally {
                queue.unlock();
            }
        }
        LlamaWeights draftWeights = quantSpec ? draft.get() : null; // built outside the queue on first use
        queue.lock();
        try {
            int capacity = prompt.length + req.maxNewTokens() + gamma + 1;
            KvShape shape = KvShape.of(config);
            int roundPositions = quantSpec ? gamma + 1 : 1;
            KvCache cache = hierarchical
                    ? new HierarchicalKvCache(shape, options.cacheConfig(config.headDim()), capacity, roundPositions)
                    : new FullPrecisionKvCache(shape, capacity);
            ForwardState state = new ForwardState(config, Math.max(options.prefillChunk(), roundPositions),
                    roundPositions, model.pool().threads(), cache.scratchSize());
            TokenPicker picker = new TokenPicker(req.sampling(), config.vocabSize());
            DecodeStats stats = new DecodeStats(quantSpec ? "quantspec" : "autoregressive/" + (hierarchical ? "hierarchical" : "full"));
            TokenEmitter emitter = emitter(req, listener, cancelled);
            Decoder decoder = quantSpec
                    ? new QuantSpecDecoder(model, target, draftWeights, (HierarchicalKvCache) cache, state, picker, gamma, options.draftKvView())
                    : new AutoregressiveDecoder(model, target, cache, state, picker);
            decoder.run(prompt, emitter, stats);
            if (!quantSpec && cache instanceof HierarchicalKvCache h) {
                stats.quantizeNanos = h.quantizeNanos();
            }
            return result(prompt, emitter, stats);
        } finally {
            queue.unlock();
        }
    }

    /** Delivers a request's tokens: EOS and stop strings end it, text is streamed to {@code listener}. */
    private TokenEmitter emitter(GenerationRequest req, GenerationListener listener, BooleanSupplier cancelled) {
        return new TokenEmitter(req.ignoreEos() ? new int[0] : config.eosTokenIds(), req.stopStrings(),
                req.maxNewTokens(), tokenizer.newStreamingDecoder(true), listener, cancelled);
    }

    private static GenerationResult result(int[] prompt, TokenEmitter emitter, DecodeStats stats) {
        stats.promptTokens = prompt.length;
        stats.generatedTokens = emitter.count();
        return new GenerationResult(emitter.ids(), emitter.text(), emitter.finishReason(), stats);
    }
}
