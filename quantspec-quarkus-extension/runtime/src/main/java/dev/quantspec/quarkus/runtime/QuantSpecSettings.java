package dev.quantspec.quarkus.runtime;

import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.model.Projection;
import dev.quantspec.quarkus.runtime.config.QuantSpecModelConfig;
import io.quarkiverse.langchain4j.runtime.NamedConfigUtil;
import io.quarkus.runtime.configuration.ConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One model configuration, checked and turned into engine options and request defaults. Every
 * problem is reported at once, each naming its full configuration key, so that a user fixes
 * {@code application.properties} in one go instead of one restart per mistake.
 *
 * @param configName      the quarkus-langchain4j configuration name ({@code <default>} or a model name)
 * @param modelPath       the model folder
 * @param engineOptions   how the engine is loaded
 * @param decoder         the default decoder of every request
 * @param gamma           draft tokens per QuantSpec round
 * @param temperature     default temperature, or null for the engine's (greedy)
 * @param topP            default top-p, or null
 * @param topK            default top-k, or null
 * @param maxTokens       default answer budget, or null for "until the context is full"
 * @param stopSequences   default stop sequences (empty: none)
 * @param seed            default sampling seed, or null for a random one per request
 */
public record QuantSpecSettings(String configName, Path modelPath, EngineOptions engineOptions, DecoderKind decoder,
                                int gamma, Double temperature, Double topP, Integer topK, Integer maxTokens,
                                List<String> stopSequences, Long seed) {

    public static final String PREFIX = "quarkus.langchain4j.quantspec.";

    /** The full key of {@code property} in configuration {@code configName}. */
    public static String key(String configName, String property) {
        return NamedConfigUtil.isDefault(configName) ? PREFIX + property : PREFIX + configName + "." + property;
    }

    /**
     * Validates {@code c}.
     *
     * @throws ConfigurationException listing every invalid value with its key
     */
    public static QuantSpecSettings from(String configName, QuantSpecModelConfig c) {
        List<String> problems = new ArrayList<>();
        Path modelPath = null;
        if (c.modelPath().isEmpty() || c.modelPath().get().isBlank()) {
            problems.add(key(configName, "model-path") + " is not set: set it to a Hugging Face Llama model folder"
                    + " (config.json, *.safetensors, tokenizer.json), e.g. models/qs-tiny");
        } else {
            modelPath = Path.of(c.modelPath().get().trim());
            if (!Files.isDirectory(modelPath)) {
                problems.add(key(configName, "model-path") + "=" + c.modelPath().get() + ": the folder "
                        + modelPath.toAbsolutePath() + " does not exist");
            } else if (!Files.isRegularFile(modelPath.resolve("config.json"))) {
                problems.add(key(configName, "model-path") + "=" + c.modelPath().get()
                        + ": no config.json in " + modelPath.toAbsolutePath() + "; is it a Hugging Face model folder?");
            }
        }
        Backend backend = parse(problems, configName, "backend", c.backend(), Backend::parse);
        if (c.gpuIndex() < 0) {
            problems.add(key(configName, "gpu-index") + " must be 0 or more, got " + c.gpuIndex());
        } else if (c.gpuIndex() > 0) {
            // The engine opens CUDA device 0; accepting another ordinal silently would run on the wrong GPU.
            problems.add(key(configName, "gpu-index") + "=" + c.gpuIndex()
                    + ": this version of the engine always uses GPU 0; set 0 or select the GPU with CUDA_VISIBLE_DEVICES");
        }
        DecoderKind decoder = parse(problems, configName, "decoder", c.decoder(), DecoderKind::parse);
        Set<Projection> draftLayers = null;
        String layers = c.draftLayers().trim().toLowerCase(Locale.ROOT);
        if (layers.equals("mlp") || layers.equals("all")) {
            draftLayers = Projection.parseSet(layers);
        } else {
            problems.add(key(configName, "draft-layers") + " must be mlp or all, got '" + c.draftLayers() + "'");
        }
        int threads = c.threads().orElse(Runtime.getRuntime().availableProcessors());
        if (threads < 1) {
            problems.add(key(configName, "threads") + " must be 1 or more, got " + threads);
        }
        int contextLength = c.contextLength().orElse(0);
        if (c.contextLength().isPresent() && contextLength < 1) {
            problems.add(key(configName, "context-length") + " must be 1 or more, got " + contextLength);
        }
        if (c.gamma() < 1 || c.gamma() > 64) {
            problems.add(key(configName, "gamma") + " must be in 1..64, got " + c.gamma());
        }
        if (c.groupSize() < 1) {
            problems.add(key(configName, "group-size") + " must be 1 or more, got " + c.groupSize());
        }
        int residual = c.residualLength().orElse(0);
        if (c.residualLength().isPresent() && c.groupSize() >= 1
                && (residual < c.groupSize() || residual % c.groupSize() != 0)) {
            problems.add(key(configName, "residual-length") + " must be a positive multiple of group-size "
                    + c.groupSize() + ", got " + residual);
        }
        QuantSpecModelConfig.ChatModelConfig chat = c.chatModel();
        Double temperature = chat.temperature().isPresent() ? chat.temperature().getAsDouble() : null;
        if (temperature != null && !(temperature >= 0 && Double.isFinite(temperature))) {
            problems.add(key(configName, "chat-model.temperature") + " must be 0 (greedy) or more, got " + temperature);
        }
        Double topP = chat.topP().isPresent() ? chat.topP().getAsDouble() : null;
        if (topP != null && !(topP > 0 && topP <= 1)) {
            problems.add(key(configName, "chat-model.top-p") + " must be in (0, 1], got " + topP);
        }
        Integer topK = chat.topK().isPresent() ? chat.topK().getAsInt() : null;
        if (topK != null && topK < 1) {
            problems.add(key(configName, "chat-model.top-k") + " must be 1 or more, got " + topK);
        }
        Integer maxTokens = chat.maxTokens().isPresent() ? chat.maxTokens().getAsInt() : null;
        if (maxTokens != null && maxTokens < 1) {
            problems.add(key(configName, "chat-model.max-tokens") + " must be 1 or more, got " + maxTokens);
        }
        List<String> stops = chat.stopSequences().orElse(List.of());
        if (stops.stream().anyMatch(String::isEmpty)) {
            problems.add(key(configName, "chat-model.stop-sequences") + " must not contain an empty text");
        }
        Long seed = chat.seed().isPresent() ? chat.seed().getAsLong() : null;

        if (!problems.isEmpty()) {
            throw new ConfigurationException("Invalid QuantSpec configuration:\n  - " + String.join("\n  - ", problems));
        }
        EngineOptions options = EngineOptions.defaults()
                .withBackend(backend)
                .withThreads(threads)
                .withContextLength(contextLength)
                .withQuantSpec(c.gamma(), c.groupSize(), draftLayers)
                .withCacheGroups(0, residual);
        return new QuantSpecSettings(configName, modelPath, options, decoder, c.gamma(), temperature, topP, topK,
                maxTokens, List.copyOf(stops), seed);
    }

    private interface Parser<T> {
        T parse(String value);
    }

    private static <T> T parse(List<String> problems, String configName, String property, String value, Parser<T> parser) {
        try {
            return parser.parse(value);
        } catch (IllegalArgumentException e) {
            problems.add(key(configName, property) + ": " + e.getMessage());
            return null;
        }
    }
}
