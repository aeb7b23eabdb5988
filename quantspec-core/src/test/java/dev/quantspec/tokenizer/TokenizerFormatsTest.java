package dev.quantspec.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quantspec.ModelFormatException;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Variants of qs-tiny's tokenizer.json covering the other supported options (a Llama 3 style split
 * sequence, ignore_merges, add_prefix_space, string merges, NFC, added-token flags) and the refusals.
 * The expected ids were produced by Hugging Face tokenizers 0.23.2 on the same modified files.
 */
class TokenizerFormatsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    @TempDir
    Path dir;

    @Test
    void should_encode_a_llama3_style_split_sequence_like_hugging_face() throws IOException {
        // given a Split(regex) + ByteLevel(use_regex=false) pre-tokenizer, ignore_merges and a
        // Sequence(ByteLevel, TemplateProcessing) post-processor, as in Llama 3's tokenizer.json
        Tokenizer tokenizer = Tokenizer.load(variant(json -> {
            ObjectNode split = JSON.createObjectNode().put("type", "Split").put("behavior", "Isolated").put("invert", false);
            split.putObject("pattern").put("Regex", LLAMA3_SPLIT);
            ObjectNode byteLevel = JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false)
                    .put("use_regex", false);
            ObjectNode pre = json.putObject("pre_tokenizer").put("type", "Sequence");
            pre.putArray("pretokenizers").add(split).add(byteLevel);
            ((ObjectNode) json.get("model")).put("ignore_merges", true);
            ObjectNode post = JSON.createObjectNode().put("type", "Sequence");
            post.putArray("processors").add(JSON.createObjectNode().put("type", "ByteLevel")).add(json.get("post_processor"));
            json.set("post_processor", post);
        }));
        // when encoding text that the two split regexes cut differently (case-insensitive contractions,
        // digit groups of three, CR LF runs)
        // then the ids are Hugging Face's
        assertThat(tokenizer.encode("I'M here,  12345 apples!!\n\n\tend  "))
                .containsExactly(0, 45, 11, 49, 2462, 16, 225, 225, 6845, 3731, 967, 1911, 6440, 386, 202, 503, 261);
        assertThat(tokenizer.encode("don't\r\n\r\nx=1000000;"))
                .containsExactly(0, 72, 268, 1218, 206, 203, 206, 203, 92, 33, 2446, 1338, 20, 31);
        assertThat(tokenizer.encode("日本語 ÄBC's")).containsExactly(0, 3254, 103, 5457, 7662, 257, 225, 132, 231, 6078, 972);
    }

    @Test
    void should_prepend_a_space_and_read_string_merges_like_hugging_face() throws IOException {
        // given add_prefix_space=true and merges written as "a b" strings
        Tokenizer tokenizer = Tokenizer.load(variant(json -> {
            ((ObjectNode) json.get("pre_tokenizer")).put("add_prefix_space", true);
            ArrayNode merges = (ArrayNode) json.get("model").get("merges");
            ArrayNode asStrings = JSON.createArrayNode();
            merges.forEach(m -> asStrings.add(m.get(0).asText() + " " + m.get(1).asText()));
            ((ObjectNode) json.get("model")).set("merges", asStrings);
        }));
        // when encoding text with and without a leading space
        // then a space is prepended only when missing
        assertThat(tokenizer.encode("Hello world")).containsExactly(0, 806, 395, 315, 7103);
        assertThat(tokenizer.encode(" Hello")).containsExactly(0, 806, 395, 315);
    }

    @Test
    void should_honour_added_token_flags_like_hugging_face() throws IOException {
        // given an NFC normalizer and added tokens with lstrip, rstrip, single_word and normalized set
        Tokenizer tokenizer = Tokenizer.load(variant(json -> {
            json.putObject("normalizer").put("type", "NFC");
            ArrayNode added = (ArrayNode) json.get("added_tokens");
            added.add(addedToken(8192, "[L]", false, true, false, false, true));
            added.add(addedToken(8193, "[R]", false, false, true, false, false));
            added.add(addedToken(8194, "qqzx", true, false, false, true, false));
            added.add(addedToken(8195, "cafè", false, false, false, true, false));
            added.add(addedToken(8196, "<|im_start|>user", false, false, false, false, false));
            added.add(addedToken(8197, "[LR]", false, true, true, false, true));
        }));
        // when encoding text around them
        // then lstrip/rstrip swallow whitespace, single_word needs non-word neighbours, the longest
        // token wins, and normalized tokens match NFC text
        assertThat(tokenizer.encode("x [L]  y")).containsExactly(0, 92, 8192, 225, 522);
        assertThat(tokenizer.encode("a [R]  b")).containsExactly(0, 69, 225, 8193, 70);
        assertThat(tokenizer.encode("a [LR] b")).containsExactly(0, 69, 8197, 70);
        assertThat(tokenizer.encode("qqzx (qqzx) xqqzx qqzxⅣ"))
                .containsExactly(0, 8194, 327, 8194, 13, 478, 85, 85, 94, 92, 1209, 85, 94, 92, 163, 232, 101);
        assertThat(tokenizer.encode("<|im_start|>user\nhi")).containsExactly(0, 8196, 203, 4971);
        assertThat(tokenizer.encode("cafe\u0300")).containsExactly(0, 8195);
        // and decoding skips only the tokens marked special
        assertThat(tokenizer.decode(tokenizer.encode("a [LR] b [R]"), true)).isEqualTo("ab [R]");
    }

    @Test
    void should_refuse_a_wordpiece_model_naming_the_file_and_the_type() throws IOException {
        // given a tokenizer.json whose model is WordPiece
        Path file = variant(json -> ((ObjectNode) json.get("model")).put("type", "WordPiece"));
        // when loaded / then the error names the file and the unsupported type
        assertThatThrownBy(() -> Tokenizer.load(file)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("WordPiece");
    }

    @Test
    void should_refuse_unsupported_normalizers_pre_tokenizers_and_decoders() throws IOException {
        // given files using a Lowercase normalizer, a Metaspace pre-tokenizer, a Metaspace decoder
        Path lowercase = variant(json -> json.putObject("normalizer").put("type", "Lowercase"));
        Path metaspace = variant(json -> json.putObject("pre_tokenizer").put("type", "Metaspace"));
        Path decoder = variant(json -> json.putObject("decoder").put("type", "Metaspace"));
        // when loaded / then each error names the file and what is unsupported
        assertThatThrownBy(() -> Tokenizer.load(lowercase)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(lowercase.toString()).hasMessageContaining("normalizer type 'Lowercase'");
        assertThatThrownBy(() -> Tokenizer.load(metaspace)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("pre_tokenizer").hasMessageContaining("Metaspace");
        assertThatThrownBy(() -> Tokenizer.load(decoder)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("decoder").hasMessageContaining("Metaspace");
    }

    @Test
    void should_refuse_a_merge_of_tokens_missing_from_the_vocabulary() throws IOException {
        // given a merge rule naming a token the vocabulary lacks
        Path file = variant(json -> ((ArrayNode) json.get("model").get("merges"))
                .add(JSON.createArrayNode().add("nosuch").add("token")));
        // when loaded / then the error points at the merge and the missing token
        assertThatThrownBy(() -> Tokenizer.load(file)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("model.merges[7931]").hasMessageContaining("'nosuch' is not in model.vocab");
    }

    @Test
    void should_report_a_missing_file() {
        // given a path with no file
        Path missing = dir.resolve("absent/tokenizer.json");
        // when loaded / then the error says the file was not found and names it
        assertThatThrownBy(() -> Tokenizer.load(missing)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not found").hasMessageContaining(missing.toString());
    }

    @Test
    void should_report_malformed_json_with_its_position() throws IOException {
        // given a truncated file
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
        // when loaded / then the error says it is not valid JSON
        assertThatThrownBy(() -> Tokenizer.load(file)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not valid JSON").hasMessageContaining("line 1");
    }

    @Test
    void should_report_a_file_without_a_model() throws IOException {
        // given valid JSON that is not a tokenizer
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, "{\"version\": \"1.0\"}");
        // when loaded / then the error says what is missing
        assertThatThrownBy(() -> Tokenizer.load(file)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("has no \"model\" object");
    }

    private Path variant(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode json = (ObjectNode) JSON.readTree(Files.readAllBytes(TestFiles.qsTiny().resolve("tokenizer.json")));
        edit.accept(json);
        Path file = Files.createTempFile(dir, "tokenizer", ".json");
        JSON.writeValue(file.toFile(), json);
        return file;
    }

    private static ObjectNode addedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip,
                                         boolean normalized, boolean special) {
        return JSON.createObjectNode().put("id", id).put("content", content).put("single_word", singleWord)
                .put("lstrip", lstrip).put("rstrip", rstrip).put("normalized", normalized).put("special", special);
    }
}
