package dev.quantspec.model;

import dev.quantspec.ModelFormatException;
import dev.quantspec.safetensors.SafetensorsTestWriter;
import dev.quantspec.safetensors.WeightFiles;
import dev.quantspec.testing.ModelFolders;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LlamaTensorNamesTest {
    @TempDir
    Path tmp;

    @Test
    void should_spell_the_hugging_face_llama_names() {
        assertThat(LlamaTensorNames.EMBEDDING).isEqualTo("model.embed_tokens.weight");
        assertThat(LlamaTensorNames.FINAL_NORM).isEqualTo("model.norm.weight");
        assertThat(LlamaTensorNames.LM_HEAD).isEqualTo("lm_head.weight");
        assertThat(LlamaTensorNames.attentionNorm(3)).isEqualTo("model.layers.3.input_layernorm.weight");
        assertThat(LlamaTensorNames.q(3)).isEqualTo("model.layers.3.self_attn.q_proj.weight");
        assertThat(LlamaTensorNames.k(3)).isEqualTo("model.layers.3.self_attn.k_proj.weight");
        assertThat(LlamaTensorNames.v(3)).isEqualTo("model.layers.3.self_attn.v_proj.weight");
        assertThat(LlamaTensorNames.o(3)).isEqualTo("model.layers.3.self_attn.o_proj.weight");
        assertThat(LlamaTensorNames.mlpNorm(12)).isEqualTo("model.layers.12.post_attention_layernorm.weight");
        assertThat(LlamaTensorNames.gate(12)).isEqualTo("model.layers.12.mlp.gate_proj.weight");
        assertThat(LlamaTensorNames.up(12)).isEqualTo("model.layers.12.mlp.up_proj.weight");
        assertThat(LlamaTensorNames.down(12)).isEqualTo("model.layers.12.mlp.down_proj.weight");
    }

    @Test
    void should_expect_exactly_the_tensors_of_qs_small() {
        // given qs-small's config and weights
        LlamaConfig config = LlamaConfig.load(TestFiles.qsSmall());
        try (WeightFiles weights = WeightFiles.open(TestFiles.qsSmall())) {
            // when the expected tensors are listed
            Map<String, long[]> expected = LlamaTensorNames.expectedShapes(config);

            // then they are the checkpoint's tensors (tied: no lm_head), with the shapes of the README table
            assertThat(expected.keySet()).containsExactlyInAnyOrderElementsOf(weights.names());
            assertThat(expected.get("model.layers.0.self_attn.k_proj.weight")).containsExactly(256, 512);
            assertThat(expected.get("model.layers.0.self_attn.o_proj.weight")).containsExactly(512, 512);
            assertThat(expected.get("model.layers.0.mlp.down_proj.weight")).containsExactly(512, 1152);
            assertThat(expected.get("model.embed_tokens.weight")).containsExactly(8192, 512);
        }
    }

    @Test
    void should_validate_the_shapes_of_both_models() {
        for (Path dir : new Path[] {TestFiles.qsTiny(), TestFiles.qsSmall()}) {
            LlamaConfig config = LlamaConfig.load(dir);
            try (WeightFiles weights = WeightFiles.open(dir)) {
                assertThatCode(() -> LlamaTensorNames.validateShapes(config, weights)).as(dir.toString())
                        .doesNotThrowAnyException();
            }
        }
    }

    @Test
    void should_report_the_first_tensor_whose_shape_disagrees_with_the_config() {
        // given qs-tiny's weights with a config claiming a narrower MLP
        Path dir = ModelFolders.editJson(TestFiles.qsTiny(), tmp, "config.json", c -> c.put("intermediate_size", 512));
        LlamaConfig config = LlamaConfig.load(dir);

        try (WeightFiles weights = WeightFiles.open(TestFiles.qsTiny())) {
            // then the first MLP matrix of layer 0 is named with both shapes
            assertThatThrownBy(() -> LlamaTensorNames.validateShapes(config, weights))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessage("model.layers.0.mlp.gate_proj.weight has shape [768, 256], expected [512, 256] from "
                            + "config.json (hidden_size 256, intermediate_size 512, heads 4/2 of 64, vocab_size 8192) in "
                            + TestFiles.qsTiny().resolve("model.safetensors"));
        }
    }

    @Test
    void should_report_a_layer_the_config_declares_but_the_weights_lack() {
        Path dir = ModelFolders.editJson(TestFiles.qsTiny(), tmp, "config.json", c -> c.put("num_hidden_layers", 5));
        LlamaConfig config = LlamaConfig.load(dir);

        try (WeightFiles weights = WeightFiles.open(TestFiles.qsTiny())) {
            assertThatThrownBy(() -> LlamaTensorNames.validateShapes(config, weights))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessage("model.layers.4.input_layernorm.weight is missing from the weights in " + TestFiles.qsTiny()
                            + ", although config.json describes 5 layers");
        }
    }

    @Test
    void should_require_an_lm_head_when_the_embeddings_are_not_tied() {
        Path dir = ModelFolders.editJson(TestFiles.qsTiny(), tmp, "config.json", c -> c.put("tie_word_embeddings", false));
        LlamaConfig config = LlamaConfig.load(dir);

        try (WeightFiles weights = WeightFiles.open(TestFiles.qsTiny())) {
            assertThatThrownBy(() -> LlamaTensorNames.validateShapes(config, weights))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessage("lm_head.weight is missing from the weights in " + TestFiles.qsTiny()
                            + ", although config.json describes 4 layers and an untied LM head");
        }
    }

    @Test
    void should_check_an_optional_lm_head_of_a_tied_model() throws IOException {
        // given a tiny synthetic 1-layer model whose tied config comes with a wrongly shaped lm_head
        LlamaConfig config = new LlamaConfig(4, 8, 1, 2, 1, 2, 1e-5f, 10000f, true, 3, 16, 0, new int[] {1});
        SafetensorsTestWriter writer = new SafetensorsTestWriter();
        LlamaTensorNames.expectedShapes(config).forEach((name, shape) -> writer.addF32(name, shape, zeros(shape)));
        writer.addF32(LlamaTensorNames.LM_HEAD, new long[] {3, 5}, new float[15]);
        writer.write(tmp.resolve("model.safetensors"));

        try (WeightFiles weights = WeightFiles.open(tmp)) {
            assertThatThrownBy(() -> LlamaTensorNames.validateShapes(config, weights))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageStartingWith("lm_head.weight has shape [3, 5], expected [3, 4] from config.json");
        }
    }

    private static float[] zeros(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return new float[(int) n];
    }
}
