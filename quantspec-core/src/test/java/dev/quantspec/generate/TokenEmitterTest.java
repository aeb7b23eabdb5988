package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.testing.Engines;
import dev.quantspec.tokenizer.Tokenizer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** End-of-sequence, stop strings and hold-back on a scripted token stream with the real tokenizer. */
class TokenEmitterTest {
    private final Tokenizer tokenizer = Engines.qsTiny().tokenizer();
    private final int imEnd = tokenizer.tokenId("<|im_end|>").orElseThrow();

    private TokenEmitter emitter(List<String> stops, int max, StringBuilder streamed) {
        return new TokenEmitter(new int[] {1, imEnd}, stops, max, tokenizer.newStreamingDecoder(true),
                (id, text) -> streamed.append(text), () -> false);
    }

    @Test
    void should_stop_at_an_end_of_sequence_id_keep_it_in_the_ids_and_not_in_the_text() {
        StringBuilder streamed = new StringBuilder();
        TokenEmitter e = emitter(List.of(), 50, streamed);
        int[] hello = tokenizer.encode("Hello there", false);
        for (int id : hello) {
            assertThat(e.emit(id)).isTrue();
        }
        assertThat(e.emit(imEnd)).isFalse();
        assertThat(e.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(e.ids()).endsWith(imEnd).hasSize(hello.length + 1);
        assertThat(e.text()).isEqualTo("Hello there").isEqualTo(streamed.toString());
    }

    @Test
    void should_hold_back_a_possible_stop_string_and_release_it_when_it_is_not_one() {
        StringBuilder streamed = new StringBuilder();
        TokenEmitter e = emitter(List.of("END!"), 50, streamed);
        for (int id : tokenizer.encode("abc EN", false)) {
            e.emit(id);
        }
        assertThat(streamed.toString()).isEqualTo("abc ");      // "EN" may start "END!"
        for (int id : tokenizer.encode("D? more", false)) {
            e.emit(id);
        }
        assertThat(streamed.toString()).startsWith("abc END? more".substring(0, streamed.length()));
        assertThat(streamed.toString()).contains("END?");
    }

    @Test
    void should_cut_the_text_before_a_stop_string_spread_over_tokens() {
        StringBuilder streamed = new StringBuilder();
        TokenEmitter e = emitter(List.of("STOP"), 50, streamed);
        boolean going = true;
        for (int id : tokenizer.encode("value = 3 # ST", false)) {
            going = e.emit(id);
        }
        assertThat(going).isTrue();
        for (int id : tokenizer.encode("OP here", false)) {
            if (!e.emit(id)) {
                break;
            }
        }
        assertThat(e.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(e.text()).isEqualTo("value = 3 # ").isEqualTo(streamed.toString());
    }

    @Test
    void should_flush_held_back_text_when_the_budget_ends() {
        StringBuilder streamed = new StringBuilder();
        int[] ids = tokenizer.encode("x = EN", false);
        TokenEmitter e = emitter(List.of("END"), ids.length, streamed);
        for (int id : ids) {
            e.emit(id);
        }
        assertThat(e.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(streamed.toString()).isEqualTo("x = EN").isEqualTo(e.text());
    }
}
