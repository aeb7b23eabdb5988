package dev.quantspec;

import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.WorkerPool;
import dev.quantspec.cuda.CudaContext;
import dev.quantspec.cuda.CudaQuantSpecModel;
import dev.quantspec.cuda.CudaRuntime;
import dev.quantspec.cuda.CudaTransformer;
import dev.quantspec.cuda.DeviceLlamaWeights;
import dev.quantspec.cuda.CudaUnavailableException;
import dev.quantspec.generate.GenerationListener;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.generate.Generator;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.LlamaWeights;
import dev.quantspec.quant.Q4Matrix;
import dev.quantspec.safetensors.WeightFiles;
import dev.quantspec.tensor.Simd;
import dev.quantspec.tokenizer.ChatMessage;
import dev.quantspec.tokenizer.ChatTemplate;
import dev.quantspec.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Llama model loaded from a Hugging Face folder, ready to generate: the entry point of the
 * engine. Thread-safe; requests are queued and run one at a time. Close it to release the mapped
 * weight files and the worker threads.
 */
public final class QuantSpecEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QuantSpecEngine.class);

    private final Path modelDir;
    private final LlamaConfig config;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final WeightFiles files;
    private final WorkerPool pool;
    private final LlamaWeights target;
    private final EngineOptions options;
    private final Generator generator;
    private final Backend backend;
    private final CudaContext cudaContext;   // null on the CPU backend
    private final DeviceLlamaWeights cudaWeights; // null on the CPU backend
    private final CudaTransformer cudaModel; // null on the CPU backend
    private CudaQuantSpecModel cudaQuantSpec; // built on the first hierarchical-cache request on the GPU
    private volatile LlamaWeights draft;

    private QuantSpecEngine(Path modelDir, LlamaConfig config, Tokenizer tokenizer, ChatTemplate chatTemplate,
                            WeightFiles files, EngineOptions options, Backend backend) {
        this.modelDir = modelDir;
        this.config = config;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.files = files;
        this.options = options;
        this.target = LlamaWeights.load(config, files);
        int context = options.contextLength() > 0 ? options.contextLength() : config.maxPositionEmbeddings();
        if (context > config.maxPositionEmbeddings()) {
            LOG.warn("QuantSpec: context length {} is beyond the {} positions {} declares (max_position_embeddings); "
                    + "quality past them is the model's own business", context, config.maxPositionEmbeddings(), modelDir.getFileName());
        }
        if (backend == Backend.CUDA) {
            String unsupported = cudaUnsupportedOptions(options);
            if (unsupported != null && options.backend() == Backend.CUDA) {
                throw new IllegalArgumentException("backend=cuda cannot serve these options: " + unsupported);
            }
            if (unsupported != null) {
                LOG.info("QuantSpec: backend=auto uses the CPU: the CUDA backend cannot serve these options: {}", unsupported);
                backend = Backend.CPU;
            }
        }
        this.pool = new WorkerPool(options.threads());
        CpuTransformer model = new CpuTransformer(config, pool, context);
        this.generator = new Generator(config, model, target, this::draftWeights, tokenizer, options, context);
        CudaContext gpuContext = null;
        DeviceLlamaWeights gpuWeights = null;
        CudaTransformer gpuModel = null;
        if (backend == Backend.CUDA) {
            try {
                gpuContext = CudaRuntime.get().open(0);
                gpuWeights = DeviceLlamaWeights.fromFiles(gpuContext, config, files);
                gpuModel = new CudaTransformer(gpuContext, gpuWeights, context);
                generator.useGpu(gpuModel, this::cudaQuantSpecModel);
            } catch (QuantSpecException e) {
                if (gpuModel != null) gpuModel.close();
                if (gpuWeights != null) gpuWeights.close();
                if (gpuContext != null) gpuContext.close();
                gpuModel = null;
                gpuWeights = null;
                gpuContext = null;
                if (options.backend() == Backend.CUDA) {
                    pool.close();
                    throw e;
                }
                // auto: a model the GPU path cannot run (e.g. fp16/fp32 weights) falls back to the CPU
                LOG.info("QuantSpec: backend=auto uses the CPU: the CUDA backend cannot run {} ({})",
                        modelDir.getFileName(), e.getMessage());
                backend = Backend.CPU;
            }
        }
        this.backend = backend;
        this.cudaContext = gpuContext;
        this.cudaWeights = gpuWeights;
        this.cudaModel = gpuModel;
    }

    /**
     * Loads the model in {@code modelDir} (config.json, safetensors, tokenizer.json,
     * tokenizer_config.json).
     *
     * @throws ModelFormatException for missing, corrupt or unsupported files
     */
    public static QuantSpecEngine load(Path modelDir, EngineOptions options) {
        if (!Files.isDirectory(modelDir)) {
            throw new ModelFormatException("model folder " + modelDir.toAbsolutePath() + " does not exist or is not a folder");
        }
        Backend backend = chooseBackend(options.backend());
        LlamaConfig config = LlamaConfig.load(modelDir);
        Tokenizer tokenizer = Tokenizer.load(modelDir.resolve("tokenizer.json"));
        Path tokenizerConfig = modelDir.resolve("tokenizer_config.json");
        ChatTemplate template = Files.exists(tokenizerConfig) ? ChatTemplate.fromTokenizerConfig(tokenizerConfig) : null;
        WeightFiles files = WeightFiles.open(modelDir);
        try {
            long t0 = System.nanoTime();
            QuantSpecEngine engine = new QuantSpecEngine(modelDir, config, tokenizer, template, files, options, backend);
            LOG.info("QuantSpec: loaded {} ({} layers, hidden {}, {} MB of weights) on the {} backend, {}, {} threads, in {} ms",
                    modelDir.getFileName(), config.numLayers(), config.hiddenSize(),
                    engine.target.matrixBytes() / 1_000_000, backend.name().toLowerCase(), Simd.describe(),
                    options.threads(), (System.nanoTime() - t0) / 1_000_000);
            return engine;
        } catch (RuntimeException e) {
            files.close();
            throw e;
        }
    }

    /**
     * auto: CUDA when the driver, a GPU and our kernels are there, else the CPU (one log line says
     * which and why); cuda: the CUDA backend or a {@link CudaUnavailableException} saying what is missing.
     */
    private static Backend chooseBackend(Backend requested) {
        return switch (requested) {
            case CPU -> Backend.CPU;
            case CUDA -> {
                CudaRuntime.get(); // throws CudaUnavailableException with the reason
                yield Backend.CUDA;
            }
            case AUTO -> {
                try {
                    CudaRuntime runtime = CudaRuntime.get();
                    LOG.info("QuantSpec: backend=auto uses CUDA: {} GPU(s), driver CUDA {}.{}", runtime.deviceCount(),
                            runtime.driverVersion() / 1000, runtime.driverVersion() % 1000 / 10);
                    yield Backend.CUDA;
                } catch (CudaUnavailableException e) {
                    LOG.info("QuantSpec: backend=auto uses the CPU: {}", e.getMessage());
                    yield Backend.CPU;
                }
            }
        };
    }

    public LlamaConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Path modelDir() {
        return modelDir;
    }

    public Backend backend() {
        return backend;
    }

    public EngineOptions options() {
        return options;
    }

    /** The GPU's name (e.g. "NVIDIA H200") on the CUDA backend; empty on the CPU backend. */
    public java.util.Optional<String> deviceName() {
        return cudaContext == null ? java.util.Optional.empty() : java.util.Optional.of(cudaContext.deviceName());
    }

    public int contextLength() {
        return generator.contextLength();
    }

    /** The model's chat template, or a clear error when tokenizer_config.json has none. */
    public ChatTemplate chatTemplate() {
        if (chatTemplate == null) {
            throw new ModelFormatException("no tokenizer_config.json with a chat_template in " + modelDir);
        }
        return chatTemplate;
    }

    /** Renders messages with the chat template and tokenizes them (the template adds BOS itself). */
    public int[] encodeChat(List<ChatMessage> messages) {
        return tokenizer.encode(chatTemplate().render(messages, true), false);
    }

    public GenerationResult generate(GenerationRequest request) {
        return generate(request, GenerationListener.NONE, () -> false);
    }

    public GenerationResult generate(GenerationRequest request, GenerationListener listener, BooleanSupplier cancelled) {
        return generator.generate(request, listener, cancelled);
    }

    /** The draft: the target with the configured projections in group-wise 4 bits, built on first use. */
    public LlamaWeights draftWeights() {
        LlamaWeights d = draft;
        if (d == null) {
            synchronized (this) {
                d = draft;
                if (d == null) {
                    long t0 = System.nanoTime();
                    d = target.mapLayerMatrices((which, m) -> options.draftProjections().contains(which)
                            ? Q4Matrix.quantize(m, options.draftWeightGroupSize()) : m);
                    LOG.info("QuantSpec: 4-bit draft of {} built in {} ms; it adds {} MB ({} projections: {})",
                            modelDir.getFileName(), (System.nanoTime() - t0) / 1_000_000,
                            String.format("%.2f", draftExtraBytes(d) / 1e6), options.draftProjections().size(),
                            options.draftProjections());
                    draft = d;
                }
            }
        }
        return d;
    }

    /** Why the CUDA backend's QuantSpec model could not serve {@code options}, or null when it can. */
    static String cudaUnsupportedOptions(EngineOptions options) {
        if (options.gamma() > CudaQuantSpecModel.MAX_GAMMA) {
            return "gamma " + options.gamma() + " is above the " + CudaQuantSpecModel.MAX_GAMMA + " a GPU round serves";
        }
        try {
            CudaQuantSpecModel.draftProjections(options.draftProjections());
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /**
     * The GPU's QuantSpec model (hierarchical cache of the context length, the draft's 4-bit matrices
     * quantized on the device), built on first use: an engine that only decodes autoregressively
     * never pays for it. Passes of up to max(gamma, 8) + 1 rows.
     */
    private synchronized CudaQuantSpecModel cudaQuantSpecModel() {
        if (cudaQuantSpec == null) {
            long t0 = System.nanoTime();
            int context = generator.contextLength();
            int maxGamma = Math.max(options.gamma(), 8);
            cudaQuantSpec = new CudaQuantSpecModel(cudaContext, cudaWeights, options.cacheConfig(config.headDim()),
                    context + maxGamma + 1, maxGamma, CudaQuantSpecModel.draftProjections(options.draftProjections()),
                    options.draftWeightGroupSize(), options.draftKvView() == KvView.TARGET);
            LOG.info("QuantSpec: GPU hierarchical cache ({} MB) and 4-bit draft ({} MB) of {} built in {} ms",
                    cudaQuantSpec.cacheBytes() / 1_000_000, cudaQuantSpec.draftWeightBytes() / 1_000_000,
                    modelDir.getFileName(), (System.nanoTime() - t0) / 1_000_000);
        }
        return cudaQuantSpec;
    }

    /** Bytes the draft adds beside the target (its 4-bit matrices; everything else is shared). */
    public long draftExtraBytes(LlamaWeights d) {
        long extra = 0;
        for (int i = 0; i < d.layers().length; i++) {
            var t = target.layers()[i];
            var q = d.layers()[i];
            extra += (q.wq() != t.wq() ? q.wq().byteSize() : 0) + (q.wk() != t.wk() ? q.wk().byteSize() : 0)
                    + (q.wv() != t.wv() ? q.wv().byteSize() : 0) + (q.wo() != t.wo() ? q.wo().byteSize() : 0)
                    + (q.wGate() != t.wGate() ? q.wGate().byteSize() : 0) + (q.wUp() != t.wUp() ? q.wUp().byteSize() : 0)
                    + (q.wDown() != t.wDown() ? q.wDown().byteSize() : 0);
        }
        return extra;
    }

    public LlamaWeights targetWeights() {
        return target;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (cudaQuantSpec != null) cudaQuantSpec.close();
        }
        if (cudaModel != null) cudaModel.close();
        if (cudaWeights != null) cudaWeights.close();
        if (cudaContext != null) cudaContext.close();
        pool.close();
        files.close();
    }
}
