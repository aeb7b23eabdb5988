package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.model.Projection;
import dev.quantspec.testing.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Greedy QuantSpec is lossless: token for token what autoregressive decoding with the same
 * hierarchical cache produces. G = 16 here so that 160 new tokens cross about ten decode-time
 * flushes (and the prompt of 100 tokens is split at prefill), for every γ.
 */
class QuantSpecLosslessTest {
    private static final int G = 16;
    private static final Map<String, QuantSpecEngine> ENGINES = new HashMap<>();
    private static final Map<String, int[]> BASELINES = new HashMap<>();

    static synchronized QuantSpecEngine engine(String model) {
        return ENGINES.computeIfAbsent(model, m -> QuantSpecEngine.load(
                m.equals("qs-tiny") ? TestFiles.qsTiny() : TestFiles.qsSmall(),
                EngineOptions.defaults().withBackend(Backend.CPU).withQuantSpec(4, G, Projection.MLP)));
    }

    static int[] prompt(QuantSpecEngine engine) throws IOException {
        String line = Files.readAllLines(TestFiles.reference("heldout-docs.jsonl")).get(0);
        String text = new ObjectMapper().readTree(line).get("text").asText();
        return Arrays.copyOf(engine.tokenizer().encode(text), 100);
    }

    @ParameterizedTest(name = "{0}, gamma {1}")
    @CsvSource({"qs-tiny,1", "qs-tiny,2", "qs-tiny,4", "qs-tiny,8", "qs-small,1", "qs-small,2", "qs-small,4", "qs-small,8"})
    void should_emit_exactly_what_autoregressive_decoding_with_the_hierarchical_cache_emits(String model, int gamma)
            throws IOException {
        // given
        QuantSpecEngine engine = engine(model);
        GenerationRequest base = GenerationRequest.greedy(prompt(engine), 160).withIgnoreEos(true);
        int[] expected;
        synchronized (BASELINES) {
            expected = BASELINES.computeIfAbsent(model, m -> engine.generate(
                    base.withDecoder(DecoderKind.AUTOREGRESSIVE, KvCacheKind.HIERARCHICAL, 0)).ids());
        }

        // when
        GenerationResult r = engine.generate(base.withDecoder(DecoderKind.QUANTSPEC, KvCacheKind.HIERARCHICAL, gamma));

        // then
        assertThat(r.ids()).containsExactly(expected);
        DecodeStats s = r.stats();
        assertThat(s.drafted()).isPositive();
        assertThat(s.acceptanceRate()).as("acceptance").isGreaterThan(0.5);
        assertThat(s.tokensPerTargetPass()).isGreaterThan(1.0);
        long rounds = Arrays.stream(s.acceptedLengthHistogram()).sum();
        assertThat(rounds).isEqualTo(s.targetPasses());
        assertThat(s.acceptedLengthHistogram().length).isLessThanOrEqualTo(gamma + 1);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"qs-tiny", "qs-small"})
    void should_stay_close_to_full_precision_decoding(String model) throws IOException {
        // The INT8 target view changes logits by little: most greedy tokens agree with the fp32 cache.
        QuantSpecEngine engine = engine(model);
        GenerationRequest base = GenerationRequest.greedy(prompt(engine), 64).withIgnoreEos(true);
        int[] full = engine.generate(base).ids();
        int[] hier = engine.generate(base.withDecoder(DecoderKind.AUTOREGRESSIVE, KvCacheKind.HIERARCHICAL, 0)).ids();
        int same = 0;
        while (same < full.length && full[same] == hier[same]) {
            same++;
        }
        assertThat(same).as("tokens before the first divergence").isGreaterThanOrEqualTo(16);
    }

}
