package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quantspec.ContextLengthExceededException;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.testing.Engines;
import dev.quantspec.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The generation contract on the embedded model: budgets, stops, streaming, sampling, errors. */
class GenerationBehaviourTest {
    private final QuantSpecEngine engine = Engines.qsTiny();
    private final int[] prompt = engine.tokenizer().encode("import os\nimport sys\n\ndef main():\n");

    @ParameterizedTest
    @EnumSource(DecoderKind.class)
    void should_stop_after_max_new_tokens_with_length(DecoderKind decoder) {
        GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, 5).withIgnoreEos(true)
                .withDecoder(decoder, KvCacheKind.FULL, 4));
        assertThat(r.ids()).hasSize(5);
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.stats().generatedTokens()).isEqualTo(5);
        assertThat(r.text()).isEqualTo(engine.tokenizer().decode(r.ids(), true));
    }

    @ParameterizedTest
    @EnumSource(DecoderKind.class)
    void should_stream_deltas_that_concatenate_to_the_text(DecoderKind decoder) {
        StringBuilder streamed = new StringBuilder();
        List<Integer> ids = new ArrayList<>();
        GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, 40).withIgnoreEos(true)
                .withDecoder(decoder, KvCacheKind.FULL, 4), (id, text) -> {
                    ids.add(id);
                    streamed.append(text);
                }, () -> false);
        assertThat(streamed.toString()).isEqualTo(r.text());
        assertThat(ids).containsExactly(java.util.Arrays.stream(r.ids()).boxed().toArray(Integer[]::new));
    }

    @ParameterizedTest
    @EnumSource(DecoderKind.class)
    void should_end_the_text_before_a_stop_string_and_never_stream_it(DecoderKind decoder) {
        // given: a stop string taken from the middle of the unconstrained output
        GenerationRequest base = GenerationRequest.greedy(prompt, 40).withIgnoreEos(true).withDecoder(decoder, KvCacheKind.FULL, 4);
        String full = engine.generate(base).text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        int expectedEnd = full.indexOf(stop);

        // when
        StringBuilder streamed = new StringBuilder();
        GenerationResult r = engine.generate(base.withStopStrings(List.of(stop)), (id, t) -> streamed.append(t), () -> false);

        // then
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(r.text()).isEqualTo(full.substring(0, expectedEnd));
        assertThat(streamed.toString()).isEqualTo(r.text()).doesNotContain(stop);
    }

    @Test
    void should_render_a_chat_prompt_the_model_answers_in_turn_format() {
        int[] chat = engine.encodeChat(List.of(new ChatMessage("user", "Write a Python function that adds two numbers.")));
        assertThat(chat[0]).isEqualTo(0);
        assertThat(engine.tokenizer().decode(chat)).endsWith("<|im_start|>assistant\n");
        GenerationResult r = engine.generate(GenerationRequest.greedy(chat, 64));
        assertThat(r.text()).doesNotContain("<|im_end|>").doesNotContain("<|im_start|>");
    }

    @ParameterizedTest
    @EnumSource(DecoderKind.class)
    void should_reproduce_samples_with_a_seed_and_vary_them_without(DecoderKind decoder) {
        GenerationRequest base = GenerationRequest.greedy(prompt, 30).withIgnoreEos(true).withDecoder(decoder, KvCacheKind.FULL, 4);
        GenerationResult a = engine.generate(base.withSampling(new SamplingParams(1.0f, 40, 0.95f, 7)));
        GenerationResult b = engine.generate(base.withSampling(new SamplingParams(1.0f, 40, 0.95f, 7)));
        GenerationResult c = engine.generate(base.withSampling(new SamplingParams(1.0f, 40, 0.95f, 8)));
        assertThat(a.ids()).containsExactly(b.ids());
        assertThat(a.ids()).isNotEqualTo(c.ids());
    }

    @Test
    void should_cancel_promptly_when_asked() {
        AtomicInteger seen = new AtomicInteger();
        GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, 100).withIgnoreEos(true),
                (id, t) -> seen.incrementAndGet(), () -> seen.get() >= 3);
        assertThat(r.finishReason()).isEqualTo(FinishReason.CANCELLED);
        assertThat(r.ids()).hasSize(3);
    }

    @Test
    void should_refuse_a_prompt_that_does_not_fit_the_context() {
        int[] longPrompt = new int[engine.contextLength() - 10];
        assertThatThrownBy(() -> engine.generate(GenerationRequest.greedy(longPrompt, 20)))
                .isInstanceOf(ContextLengthExceededException.class)
                .hasMessageContaining("4086 tokens")
                .hasMessageContaining("at most 10 new tokens");
    }

    @Test
    void should_refuse_invalid_parameters_clearly() {
        assertThatThrownBy(() -> new SamplingParams(-1f, 0, 1f, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingParams(1f, -2, 1f, 0)).hasMessageContaining("topK");
        assertThatThrownBy(() -> new SamplingParams(1f, 0, 0f, 0)).hasMessageContaining("topP");
        assertThatThrownBy(() -> GenerationRequest.greedy(prompt, 0)).hasMessageContaining("maxNewTokens");
        assertThatThrownBy(() -> GenerationRequest.greedy(new int[0], 3)).hasMessageContaining("empty");
        assertThatThrownBy(() -> engine.generate(GenerationRequest.greedy(new int[] {0, 99999}, 3)))
                .hasMessageContaining("outside the vocabulary");
    }
}
