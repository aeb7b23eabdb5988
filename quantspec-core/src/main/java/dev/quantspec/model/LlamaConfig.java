package dev.quantspec.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/**
 * The hyper-parameters of a Llama model, read from a Hugging Face {@code config.json} (and the
 * stop tokens of {@code generation_config.json}).
 *
 * <p>{@link #load} accepts only what the engine computes exactly: plain Llama with SiLU, default
 * RoPE and no biases. Anything else (another architecture, RoPE scaling, biases) is refused with
 * a message instead of producing subtly wrong logits.
 *
 * @param hiddenSize            model width ({@code hidden_size})
 * @param intermediateSize      MLP width ({@code intermediate_size})
 * @param numLayers             decoder layers ({@code num_hidden_layers})
 * @param numHeads              query heads ({@code num_attention_heads})
 * @param numKvHeads            key/value heads ({@code num_key_value_heads}; GQA when fewer than numHeads)
 * @param headDim               size of one head ({@code head_dim}, default hiddenSize / numHeads)
 * @param rmsNormEps            epsilon of every RMSNorm
 * @param ropeTheta             RoPE base frequency
 * @param tieWordEmbeddings     the LM head reuses the token embedding matrix
 * @param vocabSize             rows of the embedding and the LM head
 * @param maxPositionEmbeddings the context length the model was built for
 * @param bosTokenId            the beginning-of-sequence token, or {@link #NO_TOKEN}
 * @param eosTokenIds           every token that ends generation (config.json's first, then
 *                              generation_config.json's), possibly empty
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
                          int headDim, float rmsNormEps, float ropeTheta, boolean tieWordEmbeddings, int vocabSize,
                          int maxPositionEmbeddings, int bosTokenId, int[] eosTokenIds) {

    /** A token id that the config sets to null: the model has no such token. */
    public static final int NO_TOKEN = -1;

    static final String CONFIG_FILE = "config.json";
    static final String GENERATION_CONFIG_FILE = "generation_config.json";

    private static final String SUPPORTED_ARCHITECTURE = "LlamaForCausalLM";
    private static final String SUPPORTED_MODEL_TYPE = "llama";
    private static final ObjectMapper JSON = new ObjectMapper();

    // Defaults of transformers' LlamaConfig, used when a key is absent from config.json.
    private static final double DEFAULT_RMS_NORM_EPS = 1e-6;
    private static final double DEFAULT_ROPE_THETA = 10000.0;
    private static final int DEFAULT_MAX_POSITIONS = 2048;
    private static final int DEFAULT_BOS = 1;
    private static final int DEFAULT_EOS = 2;

    public LlamaConfig {
        if (hiddenSize < 1 || intermediateSize < 1 || numLayers < 1 || numHeads < 1 || numKvHeads < 1
                || headDim < 1 || vocabSize < 1 || maxPositionEmbeddings < 1 || numHeads % numKvHeads != 0
                || headDim % 2 != 0 || !(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("inconsistent Llama config: hidden=" + hiddenSize + " ffn="
                    + intermediateSize + " layers=" + numLayers + " heads=" + numHeads + " kvHeads=" + numKvHeads
                    + " headDim=" + headDim + " vocab=" + vocabSize + " maxPositions=" + maxPositionEmbeddings
                    + " eps=" + rmsNormEps + " ropeTheta=" + ropeTheta);
        }
        eosTokenIds = Objects.requireNonNull(eosTokenIds, "eosTokenIds").clone();
    }

    /** Size of all key (or value) heads of one position: {@code numKvHeads * headDim}. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Size of all query heads of one position: {@code numHeads * headDim}. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Query heads sharing one key/value head (1 without grouped-query attention). */
    public int gqaGroup() {
        return numHeads / numKvHeads;
    }

    /** A copy of the stop tokens. */
    @Override
    public int[] eosTokenIds() {
        return eosTokenIds.clone();
    }

    /** True when {@code tokenId} ends generation. */
    public boolean isEos(int tokenId) {
        for (int eos : eosTokenIds) {
            if (eos == tokenId) {
                return true;
            }
        }
        return false;
    }

    /**
     * Reads {@code modelDir/config.json} and, when present, {@code modelDir/generation_config.json}.
     *
     * @throws ModelFormatException when config.json is missing or malformed, or describes a model
     *                              the engine does not support; the message names the file and key
     */
    public static LlamaConfig load(Path modelDir) {
        Path configFile = modelDir.resolve(CONFIG_FILE);
        if (!Files.isDirectory(modelDir)) {
            throw new ModelFormatException("model folder " + modelDir + " does not exist or is not a folder");
        }
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFormatException("no " + CONFIG_FILE + " in " + modelDir
                    + ": a Hugging Face model folder needs config.json beside its weights");
        }
        ConfigJson config = new ConfigJson(readJson(configFile), configFile);
        checkArchitecture(config);
        config.requireEqual("hidden_act", "silu", "only the SiLU (SwiGLU) MLP is supported");
        config.requireNotTrue("attention_bias", "attention projections with bias are not supported");
        config.requireNotTrue("mlp_bias", "MLP projections with bias are not supported");
        checkRopeType(config);

        int hidden = config.positiveInt("hidden_size", null);
        int heads = config.positiveInt("num_attention_heads", null);
        int kvHeads = config.positiveInt("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw new ModelFormatException(configFile + ": num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads + ", so query heads cannot share key/value heads evenly");
        }
        int headDim;
        if (config.has("head_dim")) {
            headDim = config.positiveInt("head_dim", null);
        } else if (hidden % heads == 0) {
            headDim = hidden / heads;
        } else {
            throw new ModelFormatException(configFile + " has no head_dim and hidden_size " + hidden
                    + " is not a multiple of num_attention_heads " + heads);
        }
        if (headDim % 2 != 0) {
            throw new ModelFormatException(configFile + ": head_dim " + headDim + " is odd; rotary embeddings need pairs");
        }

        Path generationFile = modelDir.resolve(GENERATION_CONFIG_FILE);
        ConfigJson generation = Files.isRegularFile(generationFile)
                ? new ConfigJson(readJson(generationFile), generationFile) : null;
        int bos = config.has("bos_token_id") || generation == null || !generation.has("bos_token_id")
                ? firstTokenId(config, "bos_token_id", DEFAULT_BOS)
                : firstTokenId(generation, "bos_token_id", DEFAULT_BOS);
        Set<Integer> eos = new LinkedHashSet<>(config.tokenIds("eos_token_id", DEFAULT_EOS));
        if (generation != null) {
            eos.addAll(generation.tokenIds("eos_token_id", null));
        }

        return new LlamaConfig(
                hidden,
                config.positiveInt("intermediate_size", null),
                config.positiveInt("num_hidden_layers", null),
                heads,
                kvHeads,
                headDim,
                (float) config.positiveDouble("rms_norm_eps", DEFAULT_RMS_NORM_EPS),
                (float) ropeTheta(config),
                config.bool("tie_word_embeddings", false),
                config.positiveInt("vocab_size", null),
                config.positiveInt("max_position_embeddings", DEFAULT_MAX_POSITIONS),
                bos,
                eos.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void checkArchitecture(ConfigJson config) {
        JsonNode architectures = config.root.get("architectures");
        if (architectures != null && architectures.isArray() && !architectures.isEmpty()) {
            List<String> names = StreamSupport.stream(architectures.spliterator(), false)
                    .map(JsonNode::asText).collect(Collectors.toList());
            if (!names.contains(SUPPORTED_ARCHITECTURE)) {
                throw unsupportedArchitecture(String.join(", ", names), config.file);
            }
            return;
        }
        String modelType = config.root.path("model_type").asText(null);
        if (!SUPPORTED_MODEL_TYPE.equals(modelType)) {
            throw unsupportedArchitecture(modelType == null ? "(no architectures and no model_type)"
                    : "model_type " + modelType, config.file);
        }
    }

    private static ModelFormatException unsupportedArchitecture(String what, Path file) {
        // Mistral shares Llama's weights but adds sliding-window attention; it stays refused until that exists.
        return new ModelFormatException("unsupported architecture " + what + " in " + file + ": only "
                + SUPPORTED_ARCHITECTURE + " (model_type " + SUPPORTED_MODEL_TYPE + ") is supported");
    }

    /**
     * transformers 5 writes RoPE settings to {@code rope_parameters}; older configs put scaling in
     * {@code rope_scaling} (with {@code rope_type}, or {@code type} before that). Only unscaled
     * RoPE is implemented, so any other type would silently compute wrong positions.
     */
    private static void checkRopeType(ConfigJson config) {
        for (String section : List.of("rope_parameters", "rope_scaling")) {
            JsonNode node = config.root.get(section);
            if (node == null || node.isNull()) {
                continue;
            }
            if (!node.isObject()) {
                throw new ModelFormatException(config.file + ": " + section + " is " + node + ", expected an object or null");
            }
            for (String key : List.of("rope_type", "type")) {
                JsonNode type = node.get(key);
                if (type != null && !type.isNull() && !"default".equals(type.asText())) {
                    throw new ModelFormatException("unsupported rope type " + type.asText() + " in " + config.file
                            + " (" + section + "." + key + "): only the default RoPE is supported, "
                            + "not llama3, linear, dynamic, yarn or other scaled variants");
                }
            }
        }
    }

    private static double ropeTheta(ConfigJson config) {
        if (config.has("rope_theta")) {
            return config.positiveDouble("rope_theta", null);
        }
        for (String section : List.of("rope_parameters", "rope_scaling")) {
            JsonNode node = config.root.get(section);
            if (node != null && node.isObject() && node.hasNonNull("rope_theta")) {
                return new ConfigJson(node, config.file).positiveDouble("rope_theta", null);
            }
        }
        return DEFAULT_ROPE_THETA;
    }

    /** bos_token_id as an int, or the first of a list; null means the model has none. */
    private static int firstTokenId(ConfigJson reader, String key, int defaultId) {
        List<Integer> ids = reader.tokenIds(key, defaultId);
        return ids.isEmpty() ? NO_TOKEN : ids.get(0);
    }

    private static JsonNode readJson(Path file) {
        try {
            JsonNode root = JSON.readTree(file.toFile());
            if (root == null || !root.isObject()) {
                throw new ModelFormatException(file + " is not a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + file + ": " + e, e);
        }
    }

    /** Typed access to one JSON object, with errors that name the file and the key. */
    private record ConfigJson(JsonNode root, Path file) {
        boolean has(String key) {
            return root.hasNonNull(key);
        }

        int positiveInt(String key, Integer defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                if (defaultValue == null) {
                    throw new ModelFormatException(file + " has no " + key);
                }
                return defaultValue;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1) {
                throw new ModelFormatException(file + ": " + key + " is " + v + ", expected a positive integer");
            }
            return v.asInt();
        }

        double positiveDouble(String key, Double defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                if (defaultValue == null) {
                    throw new ModelFormatException(file + " has no " + key);
                }
                return defaultValue;
            }
            if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
                throw new ModelFormatException(file + ": " + key + " is " + v + ", expected a positive number");
            }
            return v.asDouble();
        }

        boolean bool(String key, boolean defaultValue) {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return defaultValue;
            }
            if (!v.isBoolean()) {
                throw new ModelFormatException(file + ": " + key + " is " + v + ", expected true or false");
            }
            return v.asBoolean();
        }

        void requireEqual(String key, String expected, String why) {
            JsonNode v = root.get(key);
            if (v != null && !v.isNull() && !expected.equals(v.asText())) {
                throw new ModelFormatException("unsupported " + key + " " + v.asText() + " in " + file + ": " + why);
            }
        }

        void requireNotTrue(String key, String why) {
            if (bool(key, false)) {
                throw new ModelFormatException("unsupported " + key + " true in " + file + ": " + why);
            }
        }

        /**
         * A token id given as an int or a list of ints; an absent key gives {@code defaultId}
         * (none when null), an explicit null gives none.
         */
        List<Integer> tokenIds(String key, Integer defaultId) {
            JsonNode v = root.get(key);
            if (v == null) {
                return defaultId == null ? List.of() : List.of(defaultId);
            }
            if (v.isNull()) {
                return List.of();
            }
            List<JsonNode> items = v.isArray()
                    ? StreamSupport.stream(v.spliterator(), false).collect(Collectors.toList()) : List.of(v);
            for (JsonNode item : items) {
                if (!item.isIntegralNumber() || !item.canConvertToInt() || item.asInt() < 0) {
                    throw new ModelFormatException(file + ": " + key + " is " + v
                            + ", expected a token id or a list of token ids");
                }
            }
            return items.stream().map(JsonNode::asInt).collect(Collectors.toList());
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LlamaConfig c
                && hiddenSize == c.hiddenSize && intermediateSize == c.intermediateSize && numLayers == c.numLayers
                && numHeads == c.numHeads && numKvHeads == c.numKvHeads && headDim == c.headDim
                && Float.compare(rmsNormEps, c.rmsNormEps) == 0 && Float.compare(ropeTheta, c.ropeTheta) == 0
                && tieWordEmbeddings == c.tieWordEmbeddings && vocabSize == c.vocabSize
                && maxPositionEmbeddings == c.maxPositionEmbeddings && bosTokenId == c.bosTokenId
                && Arrays.equals(eosTokenIds, c.eosTokenIds);
    }

    @Override
    public int hashCode() {
        return 31 * Objects.hash(hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                rmsNormEps, ropeTheta, tieWordEmbeddings, vocabSize, maxPositionEmbeddings, bosTokenId)
                + Arrays.hashCode(eosTokenIds);
    }

    @Override
    public String toString() {
        return "LlamaConfig[hidden=" + hiddenSize + ", ffn=" + intermediateSize + ", layers=" + numLayers
                + ", heads=" + numHeads + "/" + numKvHeads + ", headDim=" + headDim + ", eps=" + rmsNormEps
                + ", ropeTheta=" + ropeTheta + ", tied=" + tieWordEmbeddings + ", vocab=" + vocabSize
                + ", maxPositions=" + maxPositionEmbeddings + ", bos=" + bosTokenId
                + ", eos=" + Arrays.toString(eosTokenIds) + "]";
    }
}
