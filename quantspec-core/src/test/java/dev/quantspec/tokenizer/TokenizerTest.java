package dev.quantspec.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The qs-tiny tokenizer against the Hugging Face reference ids in shared/reference/tokenizer-cases.json. */
class TokenizerTest {
    private static final String BOS = "<|begin_of_text|>";

    private static Tokenizer tokenizer;
    private static List<ReferenceCase> cases;

    record ReferenceCase(int index, String text, int[] ids) {
        String label() {
            String shown = text.length() > 40 ? text.substring(0, 40) + "..." : text;
            return "case " + index + ": " + shown.replace("\n", "\\n");
        }
    }

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        cases = readCases(TestFiles.reference("tokenizer-cases.json"));
    }

    static List<ReferenceCase> readCases(Path file) throws IOException {
        // Files.readAllBytes fails, rather than skips, when the reference file is missing.
        JsonNode root = new ObjectMapper().readTree(Files.readAllBytes(file));
        assertThat(root.path("add_special_tokens").asBoolean()).as("reference encoded with special tokens").isTrue();
        List<ReferenceCase> out = new ArrayList<>();
        JsonNode list = root.path("cases");
        for (int i = 0; i < list.size(); i++) {
            JsonNode c = list.get(i);
            int[] ids = new int[c.get("ids").size()];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = c.get("ids").get(k).asInt();
            }
            out.add(new ReferenceCase(i, c.get("text").asText(), ids));
        }
        assertThat(out).as("reference cases in " + file).hasSize(32);
        return out;
    }

    static List<ReferenceCase> cases() {
        return cases;
    }

    @TestFactory
    Stream<DynamicTest> should_encode_every_reference_case_to_the_hugging_face_ids() {
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.label(), () -> {
            // given a reference case
            // when it is encoded with special tokens
            int[] ids = tokenizer.encode(c.text());
            // then the ids are exactly those of Hugging Face tokenizers
            assertThat(ids).as(c.label()).containsExactly(c.ids());
        }));
    }

    @TestFactory
    Stream<DynamicTest> should_decode_every_reference_case_back_to_its_text() {
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.label(), () -> {
            // given the reference ids, which start with BOS
            // when decoded with and without special tokens
            String withSpecials = tokenizer.decode(c.ids(), false);
            String withoutSpecials = tokenizer.decode(c.ids(), true);
            // then special tokens render as their text, or vanish when skipped (as in Hugging Face)
            assertThat(withSpecials).isEqualTo(BOS + c.text());
            assertThat(withoutSpecials).isEqualTo(withoutSpecialTokenTexts(c.text()));
        }));
    }

    private static String withoutSpecialTokenTexts(String text) {
        String out = text;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            if (tokenizer.isSpecial(id)) {
                out = out.replace(tokenizer.tokenText(id), "");
            }
        }
        return out;
    }

    @Test
    void should_add_bos_only_when_special_tokens_are_requested() {
        // given a text without special tokens
        String text = "Hello, world!";
        // when encoded with and without special tokens
        int[] with = tokenizer.encode(text, true);
        int[] without = tokenizer.encode(text, false);
        // then only the first starts with BOS (id 0) and the rest is identical
        assertThat(with[0]).isZero();
        assertThat(without).containsExactly(java.util.Arrays.copyOfRange(with, 1, with.length));
        assertThat(tokenizer.encode("", true)).containsExactly(0);
        assertThat(tokenizer.encode("", false)).isEmpty();
    }

    @Test
    void should_match_special_tokens_in_text_even_without_adding_special_tokens() {
        // given ChatML markers written in the text
        // when encoded without post-processor tokens
        int[] ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", false);
        // then each marker is one id and no BOS is added
        assertThat(ids).startsWith(2).endsWith(3);
        assertThat(ids).doesNotContain(0);
        // and text that merely resembles a marker is ordinary text
        assertThat(tokenizer.encode("<|im_start|", false)).doesNotContain(2);
    }

    @Test
    void should_expose_the_vocabulary() {
        // given the qs-tiny tokenizer (8192 ids, ChatML special tokens 0..4)
        // then lookups agree with tokenizer.json
        assertThat(tokenizer.vocabSize()).isEqualTo(8192);
        assertThat(tokenizer.tokenId("<|im_end|>")).hasValue(3);
        assertThat(tokenizer.tokenId("<|begin_of_text|>")).hasValue(0);
        assertThat(tokenizer.tokenId("no such token")).isEmpty();
        assertThat(tokenizer.tokenText(2)).isEqualTo("<|im_start|>");
        assertThat(tokenizer.tokenText(225)).isEqualTo("Ġ");  // the byte-level spelling of a space
        assertThat(tokenizer.isSpecial(3)).isTrue();
        assertThat(tokenizer.isSpecial(225)).isFalse();
        assertThatThrownBy(() -> tokenizer.tokenText(8192)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("8192");
    }

    @Test
    void should_render_a_character_cut_between_tokens_as_replacement_when_decoded_alone() {
        // given the ids of an emoji, which byte-level BPE spreads over several tokens
        int[] ids = tokenizer.encode("🚀", false);
        assertThat(ids.length).isGreaterThan(1);
        // when only the first token is decoded
        String partial = tokenizer.decode(new int[] {ids[0]});
        // then the incomplete UTF-8 sequence becomes U+FFFD, and the whole sequence decodes intact
        assertThat(partial).isEqualTo("\uFFFD");
        assertThat(tokenizer.decode(ids)).isEqualTo("🚀");
    }

    @Test
    void should_skip_ids_that_name_no_token_when_decoding_like_hugging_face() {
        // given a valid id, an id past the vocabulary and another valid id
        int[] ids = {tokenizer.tokenId("Ġworld").orElseThrow(), 99_999, tokenizer.tokenId("!").orElseThrow()};
        // when decoded
        // then the unknown id contributes nothing
        assertThat(tokenizer.decode(ids)).isEqualTo(" world!");
    }

    @Test
    void should_treat_unicode_spaces_as_whitespace_when_splitting_like_hugging_face() {
        // given NBSP, ideographic space, line separator, NEL and thin space next to letters and punctuation,
        // where ASCII-only \s would glue them to punctuation and split differently
        // when encoded
        // then the ids are those of Hugging Face tokenizers 0.23.2
        assertThat(tokenizer.encode("x \u00a0y\u00a0!\u3000\u3000z \u2028\n", false))
                .containsExactly(92, 225, 3822, 93, 3822, 5, 1096, 227, 1096, 227, 94, 225, 2851, 106, 203);
        assertThat(tokenizer.encode("\u0085a\u2009\u2009 \u00a0", false))
                .containsExactly(131, 232, 69, 2851, 236, 2851, 236, 225, 3822);
        // (the next three split differently, and so encode differently, with ASCII-only \s)
        assertThat(tokenizer.encode("cb  \u00a01234 ", false)).containsExactly(5254, 261, 3822, 871, 1977, 225);
        assertThat(tokenizer.encode("café.  \u00a0", false)).containsExactly(775, 74, 132, 107, 18, 261, 3822);
        assertThat(tokenizer.encode("\n\n \u3000    x", false)).containsExactly(944, 1096, 227, 263, 478);
    }

    @Test
    void should_keep_whitespace_runs_and_unicode_spaces_reversible() {
        // given text full of whitespace subtleties (the GPT-2 split's \s+(?!\S) rule, NBSP, ideographic space)
        String text = "a  \u00a0 b\u3000\u3000c \t\n\n  d   ";
        // when it is encoded and decoded
        // then the text comes back byte for byte
        assertThat(tokenizer.decode(tokenizer.encode(text, false))).isEqualTo(text);
    }
}
