package dev.quantspec.model;

import dev.quantspec.ModelFormatException;
import dev.quantspec.safetensors.TensorData;
import dev.quantspec.safetensors.WeightFiles;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Hugging Face names of a Llama checkpoint's tensors, and the shapes config.json implies for
 * them. Linear weights are stored as {@code [out_features, in_features]}, so a projection from
 * the model width to the query heads is {@code [qDim, hidden]}.
 */
public final class LlamaTensorNames {
    /** [vocab, hidden] */
    public static final String EMBEDDING = "model.embed_tokens.weight";
    /** [hidden] */
    public static final String FINAL_NORM = "model.norm.weight";
    /** [vocab, hidden]; absent (or ignored) when the head is tied to the embedding */
    public static final String LM_HEAD = "lm_head.weight";

    private LlamaTensorNames() {}

    private static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** RMSNorm weight before attention, [hidden]. */
    public static String attentionNorm(int layer) {
        return layer(layer, "input_layernorm.weight");
    }

    /** Query projection, [qDim, hidden]. */
    public static String q(int layer) {
        return layer(layer, "self_attn.q_proj.weight");
    }

    /** Key projection, [kvDim, hidden]. */
    public static String k(int layer) {
        return layer(layer, "self_attn.k_proj.weight");
    }

    /** Value projection, [kvDim, hidden]. */
    public static String v(int layer) {
        return layer(layer, "self_attn.v_proj.weight");
    }

    /** Attention output projection, [hidden, qDim]. */
    public static String o(int layer) {
        return layer(layer, "self_attn.o_proj.weight");
    }

    /** RMSNorm weight before the MLP, [hidden]. */
    public static String mlpNorm(int layer) {
        return layer(layer, "post_attention_layernorm.weight");
    }

    /** SwiGLU gate projection, [intermediate, hidden]. */
    public static String gate(int layer) {
        return layer(layer, "mlp.gate_proj.weight");
    }

    /** SwiGLU up projection, [intermediate, hidden]. */
    public static String up(int layer) {
        return layer(layer, "mlp.up_proj.weight");
    }

    /** MLP down projection, [hidden, intermediate]. */
    public static String down(int layer) {
        return layer(layer, "mlp.down_proj.weight");
    }

    /**
     * Every tensor the engine needs, with its expected shape, in load order: the embedding, each
     * layer's tensors, the final norm, then the LM head unless it is tied.
     */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long hidden = c.hiddenSize();
        long ffn = c.intermediateSize();
        shapes.put(EMBEDDING, new long[] {c.vocabSize(), hidden});
        for (int i = 0; i < c.numLayers(); i++) {
            shapes.put(attentionNorm(i), new long[] {hidden});
            shapes.put(q(i), new long[] {c.qDim(), hidden});
            shapes.put(k(i), new long[] {c.kvDim(), hidden});
            shapes.put(v(i), new long[] {c.kvDim(), hidden});
            shapes.put(o(i), new long[] {hidden, c.qDim()});
            shapes.put(mlpNorm(i), new long[] {hidden});
            shapes.put(gate(i), new long[] {ffn, hidden});
            shapes.put(up(i), new long[] {ffn, hidden});
            shapes.put(down(i), new long[] {hidden, ffn});
        }
        shapes.put(FINAL_NORM, new long[] {hidden});
        if (!c.tieWordEmbeddings()) {
            shapes.put(LM_HEAD, new long[] {c.vocabSize(), hidden});
        }
        return shapes;
    }

    /**
     * Checks that {@code files} holds every tensor of {@link #expectedShapes} with that shape (and
     * a tied model's optional {@code lm_head.weight}, when present, too).
     *
     * @throws ModelFormatException at the first missing tensor or wrong shape, naming both shapes
     */
    public static void validateShapes(LlamaConfig config, WeightFiles files) {
        Map<String, long[]> expected = expectedShapes(config);
        if (config.tieWordEmbeddings() && files.contains(LM_HEAD)) {
            // Some exporters save the tied head anyway; it is unused, but a wrong shape means a wrong config.
            expected.put(LM_HEAD, new long[] {config.vocabSize(), config.hiddenSize()});
        }
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            if (!files.contains(name)) {
                throw new ModelFormatException(name + " is missing from the weights in " + files.modelDir()
                        + ", although config.json describes " + config.numLayers() + " layers"
                        + (config.tieWordEmbeddings() ? "" : " and an untied LM head"));
            }
            TensorData t = files.tensor(name);
            if (!Arrays.equals(t.shape(), e.getValue())) {
                throw new ModelFormatException(name + " has shape " + Arrays.toString(t.shape()) + ", expected "
                        + Arrays.toString(e.getValue()) + " from config.json (hidden_size " + config.hiddenSize()
                        + ", intermediate_size " + config.intermediateSize() + ", heads " + config.numHeads() + "/"
                        + config.numKvHeads() + " of " + config.headDim() + ", vocab_size " + config.vocabSize()
                        + ") in " + t.file());
            }
        }
    }
}
