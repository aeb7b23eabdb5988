package dev.quantspec.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.ModelFormatException;
import dev.quantspec.testing.ModelFolders;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WeightFilesTest {
    private static final String INDEX = "model.safetensors.index.json";

    @TempDir
    Path tmp;

    @Test
    void should_open_the_single_file_of_qs_tiny() throws IOException {
        // when qs-tiny's folder is opened
        try (WeightFiles weights = WeightFiles.open(TestFiles.qsTiny())) {
            // then it holds 4 layers of 9 tensors, the embedding and the final norm; the head is tied
            assertThat(weights.names()).hasSize(38)
                    .contains("model.embed_tokens.weight", "model.norm.weight", "model.layers.3.self_attn.v_proj.weight")
                    .doesNotContain("lm_head.weight");
            assertThat(weights.contains("model.layers.0.mlp.gate_proj.weight")).isTrue();
            assertThat(weights.contains("model.layers.4.mlp.gate_proj.weight")).isFalse();
            // and its tensors fill the data area of the file exactly (header of 4096 bytes)
            assertThat(weights.totalBytes()).isEqualTo(Files.size(TestFiles.qsTiny().resolve("model.safetensors")) - 8 - 4096);
            assertThat(weights.tensor("model.layers.1.self_attn.q_proj.weight").shape()).containsExactly(256, 256);
        }
    }

    @Test
    void should_open_the_five_shards_of_qs_small_through_the_index() throws IOException {
        // given the index of qs-small, read independently
        Path dir = TestFiles.qsSmall();
        JsonNode index = new ObjectMapper().readTree(dir.resolve(INDEX).toFile());
        List<String> indexNames = new ArrayList<>();
        index.get("weight_map").fieldNames().forEachRemaining(indexNames::add);

        // when the folder is opened
        try (WeightFiles weights = WeightFiles.open(dir)) {
            // then it exposes exactly the index's tensors, totalling the index's total_size
            assertThat(weights.names()).containsExactlyElementsOf(indexNames).hasSize(2 + 8 * 9);
            assertThat(weights.totalBytes()).isEqualTo(index.get("metadata").get("total_size").asLong());

            // and tensors from different shards read the bytes of their own shard
            for (String name : List.of("model.embed_tokens.weight", "model.layers.3.mlp.down_proj.weight",
                    "model.layers.7.self_attn.k_proj.weight", "model.norm.weight")) {
                Path shard = dir.resolve(index.get("weight_map").get(name).asText());
                RawSafetensors raw = new RawSafetensors(shard);
                TensorData t = weights.tensor(name);
                assertThat(t.file()).isEqualTo(shard);
                for (long i : new long[] {0, 1, t.elementCount() / 2, t.elementCount() - 1}) {
                    assertThat(t.getFloat(i)).as("%s[%d]", name, i).isEqualTo(raw.bf16(name, i));
                }
            }
            assertThat(weights.tensor("model.layers.5.mlp.up_proj.weight").shape()).containsExactly(1152, 512);
        }
    }

    @Test
    void should_read_the_same_rows_when_tensors_are_split_into_small_chunks() {
        // given qs-tiny opened normally and with a 16 KiB chunk limit (the embedding becomes 256 chunks of 32 rows)
        try (WeightFiles whole = WeightFiles.open(TestFiles.qsTiny());
             WeightFiles chunked = WeightFiles.open(TestFiles.qsTiny(), 16 * 1024)) {
            TensorData a = whole.tensor("model.embed_tokens.weight");
            TensorData b = chunked.tensor("model.embed_tokens.weight");
            assertThat(b.chunkCount()).isEqualTo(256);
            assertThat(b.rowsPerChunk()).isEqualTo(32);

            // then every row reads identically
            float[] rowA = new float[256];
            float[] rowB = new float[256];
            List<Integer> differing = new ArrayList<>();
            for (int r = 0; r < a.rows(); r++) {
                a.readRow(r, rowA, 0);
                b.readRow(r, rowB, 0);
                if (!Arrays.equals(rowA, rowB)) {
                    differing.add(r);
                }
            }
            assertThat(differing).isEmpty();
            // and element reads agree across a chunk boundary (rows 31 and 32 live in chunks 0 and 1)
            for (long i = 31 * 256 - 3; i <= 32 * 256 + 3; i++) {
                assertThat(b.getFloat(i)).isEqualTo(a.getFloat(i));
            }
        }
    }

    @Test
    void should_list_similar_names_when_a_tensor_is_missing() {
        try (WeightFiles weights = WeightFiles.open(TestFiles.qsSmall())) {
            assertThatThrownBy(() -> weights.tensor("model.layers.2.self_attn.qproj.weight"))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageStartingWith("tensor model.layers.2.self_attn.qproj.weight is not in the weights of "
                            + TestFiles.qsSmall() + " (74 tensors; closest names: [model.layers.2.self_attn.q_proj.weight, ");
        }
    }

    @Test
    void should_report_a_folder_without_weights_listing_what_it_holds() throws IOException {
        // given a folder with only a config
        Files.writeString(tmp.resolve("config.json"), "{}");
        Files.writeString(tmp.resolve("pytorch_model.bin"), "");

        assertThatThrownBy(() -> WeightFiles.open(tmp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("no model.safetensors or model.safetensors.index.json in " + tmp
                        + " (found: config.json, pytorch_model.bin)");
    }

    @Test
    void should_report_a_missing_folder() {
        Path absent = tmp.resolve("nope");
        assertThatThrownBy(() -> WeightFiles.open(absent))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("model folder " + absent + " does not exist or is not a folder");
    }

    @Test
    void should_report_the_shards_named_by_the_index_that_are_missing() {
        // given qs-small's index with only its last (smallest) shard beside it
        Path dir = ModelFolders.copyFiles(TestFiles.qsSmall(), tmp.resolve("qs-small"),
                INDEX, "model-00005-of-00005.safetensors");

        // then opening names each missing shard, one tensor it should hold, and what the folder has
        assertThatThrownBy(() -> WeightFiles.open(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith("shard files named by " + dir.resolve(INDEX) + " are missing from " + dir
                        + ": model-00001-of-00005.safetensors (for model.embed_tokens.weight and ")
                .hasMessageContaining(", model-00004-of-00005.safetensors (for ")
                .hasMessageEndingWith("; found: model-00005-of-00005.safetensors, " + INDEX)
                .message().doesNotContain("model-00005-of-00005.safetensors (for");
    }

    @Test
    void should_report_a_tensor_that_the_index_maps_to_a_shard_lacking_it() throws IOException {
        // given an index that puts "b" in a shard holding only "a" and "c"
        new SafetensorsTestWriter().addF32("a", new long[] {1}, 1).addF32("c", new long[] {1}, 3)
                .write(tmp.resolve("s1.safetensors"));
        Files.writeString(tmp.resolve(INDEX), "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}");

        assertThatThrownBy(() -> WeightFiles.open(tmp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(tmp.resolve(INDEX) + " maps tensor b to shard s1.safetensors, but that shard does not "
                        + "contain it (closest names there: [a, c])");
    }

    @Test
    void should_refuse_a_shard_outside_the_model_folder() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("model"));
        new SafetensorsTestWriter().addF32("a", new long[] {1}, 1).write(tmp.resolve("outside.safetensors"));
        Files.writeString(dir.resolve(INDEX), "{\"weight_map\":{\"a\":\"../outside.safetensors\"}}");

        assertThatThrownBy(() -> WeightFiles.open(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("to shard ../outside.safetensors, which lies outside the model folder");
    }

    @Test
    void should_reject_an_index_without_a_weight_map() throws IOException {
        Files.writeString(tmp.resolve(INDEX), "{\"metadata\":{}}");
        assertThatThrownBy(() -> WeightFiles.open(tmp))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(tmp.resolve(INDEX) + " has no weight_map object naming each tensor's shard file");
    }

    @Test
    void should_refuse_tensor_access_after_close() {
        WeightFiles weights = WeightFiles.open(TestFiles.qsSmall());
        TensorData norm = weights.tensor("model.norm.weight");
        weights.close();

        assertThatThrownBy(() -> weights.tensor("model.norm.weight")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> norm.getFloat(0)).isInstanceOf(IllegalStateException.class);
    }
}
