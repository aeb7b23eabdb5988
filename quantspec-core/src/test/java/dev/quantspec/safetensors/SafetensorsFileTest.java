package dev.quantspec.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quantspec.ModelFormatException;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsFileTest {
    @TempDir
    Path tmp;

    private static Path qsTinyWeights() {
        return TestFiles.qsTiny().resolve("model.safetensors");
    }

    // ---- real file -------------------------------------------------------------------------

    @Test
    void should_map_every_tensor_of_qs_tiny_with_the_shapes_of_its_header() throws IOException {
        // given the raw header of qs-tiny, read without the production reader
        RawSafetensors raw = new RawSafetensors(qsTinyWeights());

        // when the file is opened
        try (SafetensorsFile file = SafetensorsFile.open(qsTinyWeights())) {
            // then every tensor is there with its dtype and shape, and nothing else
            assertThat(file.names()).hasSize(4 * 9 + 2).doesNotContain("__metadata__");
            for (String name : file.names()) {
                TensorData t = file.tensor(name);
                JsonNode entry = raw.entry(name);
                assertThat(t.dtype()).as(name).isEqualTo(DType.BF16);
                long[] shape = new long[entry.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = entry.get("shape").get(i).asLong();
                }
                assertThat(t.shape()).as(name).containsExactly(shape);
                assertThat(t.chunkCount()).as(name).isEqualTo(1);
            }
            assertThat(file.totalBytes()).isEqualTo(Files.size(qsTinyWeights()) - 8 - 4096); // qs-tiny's header is 4096 bytes
        }
    }

    @Test
    void should_read_the_same_values_as_the_raw_bytes_of_qs_tiny() throws IOException {
        // given values decoded straight from the file's bytes
        RawSafetensors raw = new RawSafetensors(qsTinyWeights());

        try (SafetensorsFile file = SafetensorsFile.open(qsTinyWeights())) {
            // when rows and elements are read through the mapping
            TensorData norm = file.tensor("model.norm.weight");
            TensorData embedding = file.tensor("model.embed_tokens.weight");
            TensorData down = file.tensor("model.layers.2.mlp.down_proj.weight");
            float[] embeddingRow = new float[embedding.cols() + 3];
            embedding.readRow(4321, embeddingRow, 3);

            // then they equal the raw values, at the start, middle and end of each tensor
            assertThat(norm.rows()).isEqualTo(1);
            assertThat(norm.cols()).isEqualTo(256);
            for (int i = 0; i < 256; i++) {
                assertThat(norm.getFloat(i)).isEqualTo(raw.bf16("model.norm.weight", i));
            }
            assertThat(embedding.rows()).isEqualTo(8192);
            assertThat(embedding.cols()).isEqualTo(256);
            for (int c = 0; c < 256; c++) {
                assertThat(embeddingRow[3 + c]).isEqualTo(raw.bf16("model.embed_tokens.weight", 4321L * 256 + c));
            }
            for (long i : new long[] {0, 1, 767, 768, 256L * 768 / 2 + 5, 256L * 768 - 1}) {
                assertThat(down.getFloat(i)).as("element %d", i).isEqualTo(raw.bf16("model.layers.2.mlp.down_proj.weight", i));
            }
            // and a trained model's weights are not all zero
            assertThat(IntStream.range(0, 256).mapToDouble(c -> Math.abs(embeddingRow[3 + c])).sum()).isGreaterThan(0);
        }
    }

    // ---- synthetic files -------------------------------------------------------------------

    @Test
    void should_convert_bf16_f16_and_f32_tensors_to_float() throws IOException {
        // given one tensor of each dtype with known values
        Path path = new SafetensorsTestWriter()
                .add16("b", "BF16", new long[] {3}, (short) 0x3F80, (short) 0xC040, (short) 0x3E80)
                .add16("h", "F16", new long[] {2, 2}, (short) 0x3C00, (short) 0xC000, (short) 0x0001, (short) 0x7BFF)
                .addF32("f", new long[] {2}, 1.5f, -0.125f)
                .write(tmp.resolve("mixed.safetensors"));

        // when they are read
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            // then each element converts exactly
            TensorData b = file.tensor("b");
            TensorData h = file.tensor("h");
            TensorData f = file.tensor("f");
            assertThat(new float[] {b.getFloat(0), b.getFloat(1), b.getFloat(2)}).containsExactly(1f, -3f, 0.25f);
            float[] row = new float[2];
            h.readRow(1, row, 0);
            assertThat(row).containsExactly(0x1p-24f, 65504f);
            assertThat(h.getFloat(1)).isEqualTo(-2f);
            f.readRow(0, row, 0);
            assertThat(row).containsExactly(1.5f, -0.125f);
            assertThat(b.dtype()).isEqualTo(DType.BF16);
            assertThat(h.dtype()).isEqualTo(DType.F16);
            assertThat(f.dtype()).isEqualTo(DType.F32);
        }
    }

    @Test
    void should_view_scalars_vectors_and_3d_tensors_as_rows_of_the_last_dimension() throws IOException {
        // given tensors of rank 0, 1 and 3
        Path path = new SafetensorsTestWriter()
                .addF32("scalar", new long[] {}, 7f)
                .addF32("vector", new long[] {4}, 1, 2, 3, 4)
                .addF32("cube", new long[] {2, 3, 5}, ramp(30))
                .write(tmp.resolve("ranks.safetensors"));

        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            TensorData scalar = file.tensor("scalar");
            TensorData vector = file.tensor("vector");
            TensorData cube = file.tensor("cube");

            // then rows is the product of the leading dimensions and cols the last one
            assertThat(new int[] {scalar.rows(), scalar.cols()}).containsExactly(1, 1);
            assertThat(scalar.elementCount()).isEqualTo(1);
            assertThat(scalar.getFloat(0)).isEqualTo(7f);
            assertThat(new int[] {vector.rows(), vector.cols()}).containsExactly(1, 4);
            assertThat(new int[] {cube.rows(), cube.cols()}).containsExactly(6, 5);
            float[] row = new float[5];
            cube.readRow(4, row, 0);
            assertThat(row).containsExactly(20, 21, 22, 23, 24);
        }
    }

    @Test
    void should_split_a_tensor_larger_than_the_chunk_limit_into_row_aligned_chunks() throws IOException {
        // given a 37 x 10 f32 tensor (40-byte rows, 1480 bytes) and a 1 KiB chunk limit
        float[] values = ramp(37 * 10);
        Path path = new SafetensorsTestWriter()
                .addF32("before", new long[] {3}, 9, 9, 9)
                .addF32("big", new long[] {37, 10}, values)
                .write(tmp.resolve("big.safetensors"));

        try (SafetensorsFile file = SafetensorsFile.open(path, 1024)) {
            // when it is mapped
            TensorData big = file.tensor("big");

            // then it is split after 25 whole rows (1000 bytes), the rest in a second chunk
            assertThat(big.rowsPerChunk()).isEqualTo(25);
            assertThat(big.chunkCount()).isEqualTo(2);
            assertThat(big.chunk(0).remaining()).isEqualTo(25 * 40);
            assertThat(big.chunk(1).remaining()).isEqualTo(12 * 40);
            // and every row is intact, including those on either side of the split
            float[] row = new float[10];
            for (int r = 0; r < 37; r++) {
                big.readRow(r, row, 0);
                assertThat(row).as("row %d", r).containsExactly(Arrays.copyOfRange(values, r * 10, r * 10 + 10));
            }
            for (long i = 0; i < values.length; i++) {
                assertThat(big.getFloat(i)).isEqualTo(values[(int) i]);
            }
            // and each chunk starts with the first element of its first row
            assertThat(big.chunk(1).getFloat(0)).isEqualTo(values[250]);
            assertThat(big.chunk(1).order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        }
    }

    @Test
    void should_map_one_row_per_chunk_when_a_row_exceeds_the_chunk_limit() throws IOException {
        // given 3 rows of 300 bf16 values (600 bytes each) and a 512-byte chunk limit
        short[] bits = new short[900];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) (Float.floatToIntBits(i % 251) >>> 16); // integers below 256 are exact in bf16
        }
        Path path = new SafetensorsTestWriter().add16("wide", "BF16", new long[] {3, 300}, bits)
                .write(tmp.resolve("wide.safetensors"));

        try (SafetensorsFile file = SafetensorsFile.open(path, 512)) {
            TensorData wide = file.tensor("wide");

            // then each row gets its own chunk and still reads back whole
            assertThat(wide.rowsPerChunk()).isEqualTo(1);
            assertThat(wide.chunkCount()).isEqualTo(3);
            float[] row = new float[300];
            wide.readRow(2, row, 0);
            assertThat(row[0]).isEqualTo(600 % 251);
            assertThat(row[299]).isEqualTo(899 % 251);
            wide.readRow(1, row, 0);
            assertThat(row[0]).isEqualTo(300 % 251);
        }
    }

    @Test
    void should_hand_out_independent_duplicates_of_a_chunk() throws IOException {
        Path path = new SafetensorsTestWriter().addF32("t", new long[] {4}, 1, 2, 3, 4).write(tmp.resolve("t.safetensors"));
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            // given a chunk whose position a reader has moved
            ByteBuffer first = file.tensor("t").chunk(0);
            first.getFloat();
            first.getFloat();

            // when another reader asks for the chunk
            ByteBuffer second = file.tensor("t").chunk(0);

            // then it starts at position 0, little-endian and read-only
            assertThat(second.position()).isZero();
            assertThat(second.getFloat()).isEqualTo(1f);
            assertThat(second.isReadOnly()).isTrue();
            assertThat(first.position()).isEqualTo(8);
        }
    }

    @Test
    void should_refuse_access_to_tensors_after_close() throws IOException {
        // given a tensor of a closed file
        Path path = new SafetensorsTestWriter().addF32("t", new long[] {2, 2}, 1, 2, 3, 4).write(tmp.resolve("t.safetensors"));
        SafetensorsFile file = SafetensorsFile.open(path);
        TensorData t = file.tensor("t");
        file.close();
        file.close(); // idempotent

        // then every accessor that touches memory throws instead of reading unmapped pages
        assertThatThrownBy(() -> t.getFloat(0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tensor t of " + path).hasMessageContaining("closed");
        assertThatThrownBy(() -> t.readRow(0, new float[2], 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> t.chunk(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> file.tensor("t")).isInstanceOf(IllegalStateException.class);
        // and metadata stays available
        assertThat(t.shape()).containsExactly(2, 2);
    }

    @Test
    void should_unmap_deterministically_on_a_standard_jdk() {
        assertThat(MappedBuffers.canUnmapNow()).isTrue();
    }

    @Test
    void should_list_similar_names_when_a_tensor_is_missing() {
        try (SafetensorsFile file = SafetensorsFile.open(qsTinyWeights())) {
            assertThatThrownBy(() -> file.tensor("model.layers.1.mlp.up_proj.weights"))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageStartingWith("tensor model.layers.1.mlp.up_proj.weights is not in " + qsTinyWeights())
                    .hasMessageContaining("closest names: [model.layers.1.mlp.up_proj.weight,");
        }
    }

    // ---- corrupt files ---------------------------------------------------------------------

    @Test
    void should_reject_a_truncated_file_naming_the_tensor_that_lies_beyond_its_end() throws IOException {
        // given qs-tiny cut in half
        Path cut = tmp.resolve("model.safetensors");
        Files.copy(qsTinyWeights(), cut);
        long halfSize = Files.size(cut) / 2;
        try (RandomAccessFile raf = new RandomAccessFile(cut.toFile(), "rw")) {
            raf.setLength(halfSize);
        }

        // then opening names a tensor past the end and says the file is truncated
        assertThatThrownBy(() -> SafetensorsFile.open(cut))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageMatching("tensor \\S+ claims bytes \\[\\d+, \\d+\\) but the data area of " + Pattern.quote(cut.toString())
                        + " has only " + (halfSize - 8 - 4096) + " bytes: the file is truncated or corrupt");
    }

    @Test
    void should_reject_a_header_length_larger_than_the_file() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("long.safetensors"), 5000,
                "{}".getBytes(StandardCharsets.UTF_8), new byte[0]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("the header of " + path + " claims 5000 bytes but the file has only 2 bytes after the "
                        + "length field: the file is truncated or not a safetensors file");
    }

    @Test
    void should_reject_a_header_length_above_2_to_the_63() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("huge.safetensors"), -1L,
                "{}".getBytes(StandardCharsets.UTF_8), new byte[0]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("claims 18446744073709551615 bytes");
    }

    @Test
    void should_reject_a_file_too_short_for_the_length_field() throws IOException {
        Path path = Files.write(tmp.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage(path + " is 3 bytes long, too short for the 8-byte safetensors header length: "
                        + "the file is truncated or not a safetensors file");
    }

    @Test
    void should_reject_offsets_that_end_beyond_the_data_area() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("lie.safetensors"),
                "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("tensor model.norm.weight claims bytes [8, 24) but the data area of " + path
                        + " has only 16 bytes: the file is truncated or corrupt");
    }

    @Test
    void should_reject_offsets_whose_size_disagrees_with_the_shape() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("size.safetensors"),
                "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", new byte[16]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("tensor w in " + path + " has shape [2, 3] of BF16, which needs 12 bytes, but its "
                        + "data_offsets [0, 16) span 16 bytes: the header is corrupt");
    }

    @Test
    void should_reject_overlapping_tensors() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("overlap.safetensors"),
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", new byte[20]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("tensors a [0, 16) and b [12, 20) overlap in " + path + ": the header is corrupt");
    }

    @Test
    void should_reject_an_unknown_dtype_in_the_header() throws IOException {
        Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("i8.safetensors"),
                "{\"q\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", new byte[4]);
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("tensor q in " + path + " has dtype I8, which is not supported: only BF16, F16, F32 tensors can be loaded");
    }

    @Test
    void should_reject_malformed_header_entries() throws IOException {
        List<String> headers = List.of(
                "{\"a\":",                                                              // broken JSON
                "[1,2]",                                                                // not an object
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}",     // negative dim
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}",        // one offset
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",      // end before begin
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}"); // overflow
        List<String> messages = new ArrayList<>();
        for (int i = 0; i < headers.size(); i++) {
            Path path = SafetensorsTestWriter.writeRaw(tmp.resolve("bad" + i + ".safetensors"), headers.get(i), new byte[8]);
            assertThatThrownBy(() -> SafetensorsFile.open(path)).as(headers.get(i))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(path.toString())
                    .satisfies(e -> messages.add(e.getMessage()));
        }
        assertThat(messages.get(0)).contains("is malformed");
        assertThat(messages.get(1)).contains("is not an object of tensor entries");
        assertThat(messages.get(2)).contains("element 0 is not a non-negative 64-bit integer");
        assertThat(messages.get(3)).contains("expected an array of 2 integers");
        assertThat(messages.get(4)).contains("end before they begin");
        assertThat(messages.get(5)).contains("is malformed").contains("Duplicate field 'a'");
        assertThat(messages.get(6)).contains("overflows 64 bits");
    }

    @Test
    void should_reject_a_missing_file_naming_it() {
        Path path = tmp.resolve("absent.safetensors");
        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(ModelFormatException.class)
                .hasMessage("safetensors file " + path + " does not exist");
    }

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i;
        }
        return v;
    }
}
