package dev.quantspec.tokenizer;

import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class StreamingDecoderTest {
    private static Tokenizer tokenizer;
    private static List<TokenizerTest.ReferenceCase> cases;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.load(TestFiles.qsTiny().resolve("tokenizer.json"));
        cases = TokenizerTest.readCases(TestFiles.reference("tokenizer-cases.json"));
    }

    @TestFactory
    Stream<DynamicTest> should_stream_every_reference_case_to_the_batch_decoding() {
        return cases.stream().flatMap(c -> Stream.of(false, true).map(skip ->
                DynamicTest.dynamicTest(c.label() + (skip ? " (skip special)" : ""), () -> {
                    // given a decoder and the reference ids
                    StreamingDecoder decoder = tokenizer.newStreamingDecoder(skip);
                    StringBuilder streamed = new StringBuilder();
                    // when ids arrive one at a time
                    for (int id : c.ids()) {
                        String piece = decoder.append(id);
                        // then every piece is whole characters: no replacement char, no lone surrogate
                        assertThat(piece).doesNotContain("\uFFFD");
                        assertThat(isWellFormed(piece)).as("piece %s is well-formed UTF-16", piece).isTrue();
                        streamed.append(piece);
                    }
                    streamed.append(decoder.flush());
                    // and together they are the batch decoding
                    assertThat(streamed.toString()).isEqualTo(tokenizer.decode(c.ids(), skip));
                })));
    }

    @Test
    void should_hold_back_a_character_split_across_tokens_until_it_is_complete() {
        // given a CJK character and an emoji, each spread over several byte tokens
        int[] ids = tokenizer.encode("日🚀", false);
        assertThat(ids.length).as("byte tokens of two multibyte characters").isGreaterThan(2);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder(false);
        StringBuilder streamed = new StringBuilder();
        int emptyPieces = 0;
        // when appended one by one
        for (int id : ids) {
            String piece = decoder.append(id);
            emptyPieces += piece.isEmpty() ? 1 : 0;
            streamed.append(piece);
        }
        // then some appends emitted nothing (bytes held back) and the characters arrived whole
        assertThat(emptyPieces).isPositive();
        assertThat(streamed.toString()).isEqualTo("日🚀");
        assertThat(decoder.flush()).isEmpty();
    }

    @Test
    void should_flush_an_unfinished_character_as_one_replacement_char() {
        // given only the first token of an emoji
        int[] ids = tokenizer.encode("🚀", false);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder(false);
        // when it is appended and the stream ends
        String appended = decoder.append(ids[0]);
        String flushed = decoder.flush();
        // then nothing came out early and the flush matches the batch decoder's U+FFFD
        assertThat(appended).isEmpty();
        assertThat(flushed).isEqualTo(tokenizer.decode(new int[] {ids[0]})).isEqualTo("\uFFFD");
    }

    @Test
    void should_drop_special_tokens_when_asked() {
        // given ids with ChatML markers
        int[] ids = tokenizer.encode("<|im_start|>assistant\nok<|im_end|>", true);
        StreamingDecoder decoder = tokenizer.newStreamingDecoder(true);
        StringBuilder streamed = new StringBuilder();
        // when streamed with skipSpecialTokens
        for (int id : ids) {
            streamed.append(decoder.append(id));
        }
        // then the markers and BOS are gone
        assertThat(streamed.append(decoder.flush()).toString()).isEqualTo("assistant\nok");
    }

    @Test
    void should_decode_invalid_utf8_like_rust_from_utf8_lossy() {
        // given byte sequences with the ill-formed cases of the Unicode standard's table 3-8
        // when decoded
        // then each maximal ill-formed subpart becomes exactly one U+FFFD
        assertThat(lossy(0xE6, 0x97)).isEqualTo("\uFFFD");                 // truncated 3-byte char
        assertThat(lossy(0xC0, 0x80)).isEqualTo("\uFFFD\uFFFD");           // overlong lead never valid
        assertThat(lossy(0xED, 0xA0, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD"); // encoded surrogate
        assertThat(lossy(0xF0, 0x9F, 0x9A, 0x41)).isEqualTo("\uFFFDA");     // cut emoji then ASCII
        assertThat(lossy(0x80, 0x41)).isEqualTo("\uFFFDA");                 // stray continuation byte
        assertThat(lossy(0xF4, 0x90, 0x80, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD"); // above U+10FFFF
        assertThat(lossy(0xE2, 0x82, 0xAC)).isEqualTo("€");
        // and the JDK's own decoder agrees on well-formed input
        byte[] text = "naïve 日本 🚀".getBytes(StandardCharsets.UTF_8);
        assertThat(LossyUtf8.decode(text, text.length)).isEqualTo("naïve 日本 🚀");
    }

    private static String lossy(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return LossyUtf8.decode(bytes, bytes.length);
    }

    private static boolean isWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
