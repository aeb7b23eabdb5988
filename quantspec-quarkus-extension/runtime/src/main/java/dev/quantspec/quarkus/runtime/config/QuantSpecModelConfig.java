package dev.quantspec.quarkus.runtime.config;

import io.quarkus.runtime.annotations.ConfigGroup;
import io.smallrye.config.WithDefault;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;

/** One QuantSpec model: what is loaded, how it decodes, and the default generation settings. */
@ConfigGroup
public interface QuantSpecModelConfig {

    /**
     * A Hugging Face Llama-family model folder (config.json, *.safetensors, tokenizer.json,
     * tokenizer_config.json). There is no default: the application fails to start when a QuantSpec
     * chat model is used and this is not set.
     */
    Optional<String> modelPath();

    /**
     * Where the transformer runs: {@code auto} (CUDA when usable, otherwise the CPU), {@code cpu} or
     * {@code cuda}.
     */
    @WithDefault("auto")
    String backend();

    /**
     * The NVIDIA GPU (CUDA device ordinal) the {@code cuda} backend would use; must be 0 or more.
     * Note: the engine does not take a device ordinal yet, so only 0 is accepted today.
     */
    @WithDefault("0")
    int gpuIndex();

    /**
     * CPU threads for the forward pass. Default: all available processors.
     */
    OptionalInt threads();

    /**
     * Tokens of context to allow (prompt and answer). Default: the model's max_position_embeddings.
     */
    OptionalInt contextLength();

    /**
     * How tokens are produced: {@code quantspec} (self-speculative decoding: a 4-bit draft of the same
     * model proposes, the full model verifies) or {@code autoregressive} (one full pass per token).
     */
    @WithDefault("quantspec")
    String decoder();

    /**
     * Draft tokens proposed per QuantSpec round (1 to 64).
     */
    @WithDefault("4")
    int gamma();

    /**
     * G, the group size of QuantSpec's hierarchical quantized KV cache.
     */
    @WithDefault("128")
    int groupSize();

    /**
     * R, the tokens the hierarchical cache keeps in full precision after the prefill; a positive
     * multiple of the group size. Default: the group size.
     */
    OptionalInt residualLength();

    /**
     * Which linear layers the QuantSpec draft holds in 4 bits: {@code mlp} (gate, up and down
     * projections) or {@code all} (the attention projections too).
     */
    @WithDefault("mlp")
    String draftLayers();

    /**
     * Default generation settings; every request may override them.
     */
    ChatModelConfig chatModel();

    /** Generation defaults of the chat models. */
    @ConfigGroup
    interface ChatModelConfig {
        /**
         * Sampling temperature; 0 is greedy decoding. Default: 0.
         */
        OptionalDouble temperature();

        /**
         * Nucleus sampling: keep the smallest set of tokens whose probability adds up to this (0 &lt; p &le; 1).
         * Default: 1 (off).
         */
        OptionalDouble topP();

        /**
         * Sample only among the k most probable tokens (k &ge; 1). Default: off.
         */
        OptionalInt topK();

        /**
         * Most tokens per answer. Default: as many as the context has room for.
         */
        OptionalInt maxTokens();

        /**
         * Texts that end the answer (the answer ends before the first one).
         */
        Optional<List<String>> stopSequences();

        /**
         * Sampling seed, for reproducible sampling. Default: a fresh random seed per request.
         */
        OptionalLong seed();
    }
}
