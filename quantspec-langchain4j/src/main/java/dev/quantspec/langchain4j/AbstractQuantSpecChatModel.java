package dev.quantspec.langchain4j;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.model.Projection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * What the blocking and the streaming QuantSpec models share: the loaded engine, the default
 * request parameters, the listeners, and turning a LangChain4j request into an engine request.
 *
 * <p>Concurrency: any number of threads may call one model. Each request gets its own KV cache,
 * activations and sampler; the engine runs one request at a time, in arrival order (a fair lock is
 * its queue), because forward passes share the weights and the CPU worker pool. Models built for
 * the same folder and engine options share one engine, hence one queue.
 */
public abstract class AbstractQuantSpecChatModel implements AutoCloseable {
    private final QuantSpecEngine engine;
    private final boolean ownsLease;
    private final String modelName;
    private final QuantSpecChatRequestParameters defaultRequestParameters;
    private final List<ChatModelListener> listeners;
    private final Consumer<GenerationResult> generationObserver;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected AbstractQuantSpecChatModel(Builder<?> builder) {
        if (builder.engine == null && builder.modelPath == null) {
            throw new IllegalArgumentException("set modelPath (a Hugging Face model folder) or engine (an already loaded one)");
        }
        Path folder = builder.engine != null ? builder.engine.modelDir() : builder.modelPath;
        this.modelName = builder.modelName != null ? builder.modelName : String.valueOf(folder.getFileName());
        this.defaultRequestParameters = builder.defaultParameters(modelName);
        // Everything that can be checked without the weights is checked before they are loaded.
        UnsupportedFeatures.check(defaultRequestParameters, modelName);
        GenerationPlanner.sampling(defaultRequestParameters);
        this.listeners = List.copyOf(builder.listeners);
        this.generationObserver = builder.generationObserver != null ? builder.generationObserver : r -> { };
        if (builder.engine != null) {
            this.engine = builder.engine;
            this.ownsLease = false;
        } else {
            this.engine = SharedEngines.acquire(builder.modelPath, builder.engineOptions());
            this.ownsLease = true;
        }
    }

    public QuantSpecChatRequestParameters defaultRequestParameters() {
        return defaultRequestParameters;
    }

    public List<ChatModelListener> listeners() {
        return listeners;
    }

    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** None: the only optional capability LangChain4j defines is JSON-schema output, which the engine lacks. */
    public Set<Capability> supportedCapabilities() {
        return Set.of();
    }

    /** The name responses carry: the builder's modelName, or the model folder's name. */
    public String modelName() {
        return modelName;
    }

    /** The loaded engine (shared with every model of the same folder and options). */
    public QuantSpecEngine engine() {
        return engine;
    }

    /**
     * Merges the request over the defaults and rejects what the engine cannot do. Cheap and
     * synchronous: streaming calls fail here, before a worker is involved.
     */
    final QuantSpecChatRequestParameters checkRequest(ChatRequest request) {
        ensureOpen();
        QuantSpecChatRequestParameters p = defaultRequestParameters.overrideWith(request.parameters());
        UnsupportedFeatures.check(p, modelName);
        UnsupportedFeatures.check(request.messages());
        GenerationPlanner.sampling(p);
        return p;
    }

    /** Renders the conversation with the chat template, tokenizes it and sizes the token budget. */
    final GenerationRequest plan(ChatRequest request, QuantSpecChatRequestParameters p) {
        int[] prompt = engine.encodeChat(TemplateMessages.of(request.messages()));
        return GenerationPlanner.plan(prompt, p, engine.contextLength());
    }

    final void observe(GenerationResult result) {
        generationObserver.accept(result);
    }

    final void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the QuantSpec model '" + modelName + "' is closed");
        }
    }

    /** Releases this model's use of the engine; the engine closes with the last model that loaded it. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && ownsLease) {
            SharedEngines.release(engine);
        }
    }

    /**
     * The builder both models share. Engine settings (folder, backend, threads, context, QuantSpec
     * cache and draft settings) choose what is loaded; request settings (decoder, sampling, budget,
     * stop sequences, seed, γ) become the default request parameters, which every request may override.
     */
    @SuppressWarnings("unchecked")
    public abstract static class Builder<B extends Builder<B>> {
        private Path modelPath;
        private QuantSpecEngine engine;
        private EngineOptions engineOptions;
        private Backend backend;
        private Integer threads;
        private Integer contextLength;
        private Integer quantSpecGroupSize;
        private Set<Projection> draftProjections;
        private String modelName;
        private ChatRequestParameters defaultRequestParameters;
        private DecoderKind decoder;
        private KvCacheKind kvCache;
        private Integer gamma;
        private Double temperature;
        private Double topP;
        private Integer topK;
        private Integer maxOutputTokens;
        private List<String> stopSequences;
        private Long seed;
        private List<ChatModelListener> listeners = List.of();
        private Consumer<GenerationResult> generationObserver;

        /** A Hugging Face Llama folder (config.json, safetensors, tokenizer.json, tokenizer_config.json). */
        public B modelPath(Path modelPath) {
            this.modelPath = modelPath;
            return (B) this;
        }

        public B modelPath(String modelPath) {
            return modelPath(Path.of(modelPath));
        }

        /** An engine loaded by the caller, who also closes it; the engine settings below are then ignored. */
        public B engine(QuantSpecEngine engine) {
            this.engine = engine;
            return (B) this;
        }

        /** All engine settings at once; the single settings below override fields of it. */
        public B engineOptions(EngineOptions engineOptions) {
            this.engineOptions = engineOptions;
            return (B) this;
        }

        public B backend(Backend backend) {
            this.backend = backend;
            return (B) this;
        }

        /** CPU threads for the forward pass (default: all available processors). */
        public B threads(Integer threads) {
            this.threads = threads;
            return (B) this;
        }

        /** Tokens of context to allow (default: the model's max_position_embeddings). */
        public B contextLength(Integer contextLength) {
            this.contextLength = contextLength;
            return (B) this;
        }

        /** G, the hierarchical KV cache's group size (QuantSpec decoding). */
        public B quantSpecGroupSize(Integer groupSize) {
            this.quantSpecGroupSize = groupSize;
            return (B) this;
        }

        /** Which linear layers the QuantSpec draft holds in 4 bits. */
        public B draftProjections(Set<Projection> draftProjections) {
            this.draftProjections = draftProjections;
            return (B) this;
        }

        /** The name responses report (default: the model folder's name). */
        public B modelName(String modelName) {
            this.modelName = modelName;
            return (B) this;
        }

        /** Base default parameters; the single request settings of this builder override their fields. */
        public B defaultRequestParameters(ChatRequestParameters parameters) {
            this.defaultRequestParameters = parameters;
            return (B) this;
        }

        public B decoder(DecoderKind decoder) {
            this.decoder = decoder;
            return (B) this;
        }

        /** The target's KV cache for autoregressive decoding (QuantSpec always uses the hierarchical one). */
        public B kvCache(KvCacheKind kvCache) {
            this.kvCache = kvCache;
            return (B) this;
        }

        /** Draft tokens per QuantSpec round (default: the engine's, 4). */
        public B gamma(Integer gamma) {
            this.gamma = gamma;
            return (B) this;
        }

        /** 0 (the default) is greedy decoding. */
        public B temperature(Double temperature) {
            this.temperature = temperature;
            return (B) this;
        }

        public B topP(Double topP) {
            this.topP = topP;
            return (B) this;
        }

        public B topK(Integer topK) {
            this.topK = topK;
            return (B) this;
        }

        /** Most tokens per answer; default: as many as the context has room for. */
        public B maxOutputTokens(Integer maxOutputTokens) {
            this.maxOutputTokens = maxOutputTokens;
            return (B) this;
        }

        public B stopSequences(List<String> stopSequences) {
            this.stopSequences = stopSequences;
            return (B) this;
        }

        public B seed(Long seed) {
            this.seed = seed;
            return (B) this;
        }

        public B listeners(List<ChatModelListener> listeners) {
            this.listeners = listeners == null ? List.of() : new ArrayList<>(listeners);
            return (B) this;
        }

        public B listeners(ChatModelListener... listeners) {
            return listeners(Arrays.asList(listeners));
        }

        /** Sees every finished generation, cancelled ones included (tests and diagnostics). */
        B generationObserver(Consumer<GenerationResult> observer) {
            this.generationObserver = observer;
            return (B) this;
        }

        EngineOptions engineOptions() {
            EngineOptions o = engineOptions != null ? engineOptions : EngineOptions.defaults();
            if (backend != null) {
                o = o.withBackend(backend);
            }
            if (threads != null) {
                o = o.withThreads(threads);
            }
            if (contextLength != null) {
                o = o.withContextLength(contextLength);
            }
            if (quantSpecGroupSize != null || draftProjections != null) {
                o = o.withQuantSpec(o.gamma(), Objects.requireNonNullElse(quantSpecGroupSize, o.groupSize()),
                        Objects.requireNonNullElse(draftProjections, o.draftProjections()));
            }
            return o;
        }

        QuantSpecChatRequestParameters defaultParameters(String servedModelName) {
            QuantSpecChatRequestParameters.Builder p = QuantSpecChatRequestParameters.builder()
                    .overrideWith(defaultRequestParameters);
            if (temperature != null) {
                p.temperature(temperature);
            }
            if (topP != null) {
                p.topP(topP);
            }
            if (topK != null) {
                p.topK(topK);
            }
            if (maxOutputTokens != null) {
                p.maxOutputTokens(maxOutputTokens);
            }
            if (stopSequences != null) {
                p.stopSequences(stopSequences);
            }
            if (seed != null) {
                p.seed(seed);
            }
            if (decoder != null) {
                p.decoder(decoder);
            }
            if (kvCache != null) {
                p.kvCache(kvCache);
            }
            if (gamma != null) {
                p.gamma(gamma);
            }
            QuantSpecChatRequestParameters built = p.build();
            // Listeners and the abstract suites expect the model name among the effective parameters.
            return built.modelName() != null ? built : p.modelName(servedModelName).build();
        }
    }
}
