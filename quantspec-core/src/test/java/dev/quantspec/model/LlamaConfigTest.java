package dev.quantspec.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quantspec.ModelFormatException;
import dev.quantspec.testing.ModelFolders;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LlamaConfigTest {
    @TempDir
    Path tmp;

    /** The folder most recently made by {@link #tinyWithConfig}, and how many it has made. */
    private Path lastFolder;
    private int variants;

    /** A new folder with qs-tiny's config.json, edited by {@code edit}, and its generation_config.json. */
    private Path tinyWithConfig(Consumer<ObjectNode> edit) {
        lastFolder = tmp.resolve("variant" + variants++);
        ModelFolders.copyFiles(TestFiles.qsTiny(), lastFolder, "generation_config.json");
        return ModelFolders.editJson(TestFiles.qsTiny(), lastFolder, "config.json", edit);
    }

    /** The config.json of the folder most recently made by {@link #tinyWithConfig}. */
    private Path tinyConfigFile() {
        return lastFolder.resolve("config.json");
    }

    @Test
    void should_load_the_config_of_qs_tiny() {
        // when qs-tiny's config is loaded
        LlamaConfig c = LlamaConfig.load(TestFiles.qsTiny());

        // then it matches the table in shared/README.md
        assertThat(c.hiddenSize()).isEqualTo(256);
        assertThat(c.intermediateSize()).isEqualTo(768);
        assertThat(c.numLayers()).isEqualTo(4);
        assertThat(c.numHeads()).isEqualTo(4);
        assertThat(c.numKvHeads()).isEqualTo(2);
        assertThat(c.headDim()).isEqualTo(64);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(2048);
        assertThat(c.vocabSize()).isEqualTo(8192);
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.rmsNormEps()).isEqualTo(1e-5f);
        assertThat(c.ropeTheta()).isEqualTo(10000f);
        assertThat(c.bosTokenId()).isEqualTo(0);
        // and the stop tokens merge config.json's 1 with generation_config.json's [1, 3]
        assertThat(c.eosTokenIds()).containsExactly(1, 3);
        assertThat(c.isEos(3)).isTrue();
        assertThat(c.isEos(2)).isFalse();
        assertThat(c.qDim()).isEqualTo(256);
        assertThat(c.kvDim()).isEqualTo(128);
        assertThat(c.gqaGroup()).isEqualTo(2);
    }

    @Test
    void should_load_the_config_of_qs_small() {
        LlamaConfig c = LlamaConfig.load(TestFiles.qsSmall());

        assertThat(new int[] {c.numLayers(), c.hiddenSize(), c.numHeads(), c.numKvHeads(), c.headDim(),
                c.intermediateSize(), c.maxPositionEmbeddings(), c.vocabSize()})
                .containsExactly(8, 512, 8, 4, 64, 1152, 4096, 8192);
        assertThat(c.ropeTheta()).isEqualTo(100000f); // from rope_parameters.rope_theta
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.eosTokenIds()).containsExactly(1, 3);
        assertThat(c.gqaGroup()).isEqualTo(2);
        assertThat(c.kvDim()).isEqualTo(256);
        assertThat(c.qDim()).isEqualTo(512);
    }

    @Test
    void should_protect_its_stop_token_array_and_compare_by_value() {
        LlamaConfig a = LlamaConfig.load(TestFiles.qsTiny());
        a.eosTokenIds()[0] = 99;

        assertThat(a.eosTokenIds()).containsExactly(1, 3);
        assertThat(a).isEqualTo(LlamaConfig.load(TestFiles.qsTiny())).hasSameHashCodeAs(LlamaConfig.load(TestFiles.qsTiny()));
        assertThat(a).isNotEqualTo(LlamaConfig.load(TestFiles.qsSmall()));
    }

    @Test
    void should_derive_head_dim_from_hidden_size_and_heads_when_absent() {
        Path dir = tinyWithConfig(c -> c.remove("head_dim"));
        assertThat(LlamaConfig.load(dir).headDim()).isEqualTo(256 / 4);
    }

    @Test
    void should_read_rope_theta_from_the_top_level_of_older_configs() {
        // given a transformers 4 style config: rope_theta at the top, rope_scaling null
        Path dir = tinyWithConfig(c -> {
            c.remove("rope_parameters");
            c.put("rope_theta", 500000.0);
            c.putNull("rope_scaling");
        });
        assertThat(LlamaConfig.load(dir).ropeTheta()).isEqualTo(500000f);
    }

    @Test
    void should_default_missing_optional_keys_like_transformers() throws IOException {
        // given a config with only the required keys, and no generation_config.json
        Path dir = Files.createDirectory(tmp.resolve("minimal"));
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}""");

        LlamaConfig c = LlamaConfig.load(dir);

        assertThat(c.numKvHeads()).isEqualTo(4);
        assertThat(c.headDim()).isEqualTo(16);
        assertThat(c.rmsNormEps()).isEqualTo(1e-6f);
        assertThat(c.ropeTheta()).isEqualTo(10000f);
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.maxPositionEmbeddings()).isEqualTo(2048);
        assertThat(c.bosTokenId()).isEqualTo(1);
        assertThat(c.eosTokenIds()).containsExactly(2);
    }

    @Test
    void should_accept_token_ids_as_lists_or_null_and_merge_both_files() throws IOException {
        // given eos as a list in config.json, overlapping generation_config.json's list, and bos null
        Path dir = tinyWithConfig(c -> {
            c.putArray("eos_token_id").add(2).add(7);
            c.putNull("bos_token_id");
        });
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [7, 9]}");

        LlamaConfig c = LlamaConfig.load(dir);

        assertThat(c.eosTokenIds()).containsExactly(2, 7, 9);
        assertThat(c.bosTokenId()).isEqualTo(LlamaConfig.NO_TOKEN);
    }

    @Test
    void should_use_config_eos_alone_without_a_generation_config() throws IOException {
        Path dir = tinyWithConfig(c -> { });
        Files.delete(dir.resolve("generation_config.json"));
        assertThat(LlamaConfig.load(dir).eosTokenIds()).containsExactly(1);
    }

    @Test
    void should_accept_model_type_llama_when_architectures_is_absent() {
        Path dir = tinyWithConfig(c -> c.remove("architectures"));
        assertThat(LlamaConfig.load(dir).numLayers()).isEqualTo(4);
    }

    @Test
    void should_reject_gpt2() {
        Path dir = tinyWithConfig(c -> {
            c.putArray("architectures").add("GPT2LMHeadModel");
            c.put("model_type", "gpt2");
        });
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported architecture GPT2LMHeadModel in " + tinyConfigFile()
                        + ": only LlamaForCausalLM (model_type llama) is supported");
    }

    @Test
    void should_reject_mistral_because_sliding_window_attention_is_not_implemented() {
        Path dir = tinyWithConfig(c -> {
            c.putArray("architectures").add("MistralForCausalLM");
            c.put("model_type", "mistral");
            c.put("sliding_window", 4096);
        });
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported architecture MistralForCausalLM in " + tinyConfigFile()
                        + ": only LlamaForCausalLM (model_type llama) is supported");
    }

    @Test
    void should_reject_a_non_llama_model_type_when_architectures_is_absent() {
        Path dir = tinyWithConfig(c -> {
            c.remove("architectures");
            c.put("model_type", "gpt2");
        });
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported architecture model_type gpt2 in " + tinyConfigFile()
                        + ": only LlamaForCausalLM (model_type llama) is supported");
    }

    @Test
    void should_reject_llama3_rope_scaling_in_rope_parameters() {
        Path dir = tinyWithConfig(c -> ((ObjectNode) c.get("rope_parameters")).put("rope_type", "llama3").put("factor", 8.0));
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported rope type llama3 in " + tinyConfigFile() + " (rope_parameters.rope_type): "
                        + "only the default RoPE is supported, not llama3, linear, dynamic, yarn or other scaled variants");
    }

    @Test
    void should_reject_linear_rope_scaling_of_older_configs() {
        Path dir = tinyWithConfig(c -> {
            c.remove("rope_parameters");
            c.put("rope_theta", 10000.0);
            c.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
        });
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith("unsupported rope type linear in " + tinyConfigFile() + " (rope_scaling.type)");
    }

    @Test
    void should_reject_another_activation() {
        Path dir = tinyWithConfig(c -> c.put("hidden_act", "gelu"));
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported hidden_act gelu in " + tinyConfigFile() + ": only the SiLU (SwiGLU) MLP is supported");
    }

    @Test
    void should_reject_biases() {
        Path attention = tinyWithConfig(c -> c.put("attention_bias", true));
        assertThatThrownBy(() -> LlamaConfig.load(attention))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported attention_bias true in " + tinyConfigFile()
                        + ": attention projections with bias are not supported");

        Path mlp = tinyWithConfig(c -> c.put("mlp_bias", true));
        assertThatThrownBy(() -> LlamaConfig.load(mlp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("unsupported mlp_bias true in " + tinyConfigFile() + ": MLP projections with bias are not supported");
    }

    @Test
    void should_reject_heads_that_kv_heads_do_not_divide() {
        Path dir = tinyWithConfig(c -> c.put("num_key_value_heads", 3));
        assertThatThrownBy(() -> LlamaConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(tinyConfigFile() + ": num_attention_heads 4 is not a multiple of num_key_value_heads 3");
    }

    @Test
    void should_reject_missing_or_invalid_required_values() {
        Path missing = tinyWithConfig(c -> c.remove("hidden_size"));
        assertThatThrownBy(() -> LlamaConfig.load(missing))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(tinyConfigFile() + " has no hidden_size");

        Path invalid = tinyWithConfig(c -> c.put("num_hidden_layers", "four"));
        assertThatThrownBy(() -> LlamaConfig.load(invalid))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(tinyConfigFile() + ": num_hidden_layers is \"four\", expected a positive integer");

        Path negative = tinyWithConfig(c -> c.put("rms_norm_eps", -1e-5));
        assertThatThrownBy(() -> LlamaConfig.load(negative))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(tinyConfigFile() + ": rms_norm_eps is -1.0E-5, expected a positive number");
    }

    @Test
    void should_report_a_folder_without_config_json() throws IOException {
        Files.writeString(tmp.resolve("model.safetensors"), "");
        assertThatThrownBy(() -> LlamaConfig.load(tmp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("no config.json in " + tmp + ": a Hugging Face model folder needs config.json beside its weights");
    }

    @Test
    void should_report_malformed_json() throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"hidden_size\": 64,");
        assertThatThrownBy(() -> LlamaConfig.load(tmp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(tmp.resolve("config.json") + " is not valid JSON: ");
    }
}
