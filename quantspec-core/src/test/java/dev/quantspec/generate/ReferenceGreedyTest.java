package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.cpu.WorkerPool;
import dev.quantspec.kv.FullPrecisionKvCache;
import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvShape;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.testing.Engines;
import dev.quantspec.testing.TestFiles;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU engine against the Hugging Face transformers reference (fp32, bf16 weights upcast):
 * every case of qs-tiny-greedy.json and qs-small-greedy.json.
 *
 * <p>Logit tolerance: both sides compute in fp32 from the same bf16 weights, so they differ only in
 * summation order and in the rounding of exp/rsqrt/cos, and in how the reference's GPU matrix
 * products round internally. Measured: deviations of up to 8.8e-3 (qs-tiny, a 900-token prompt) on logits of magnitude 7-17,
 * of both signs and unrelated to prompt length (the printed summary gives the maximum of each run),
 * so relative noise below 1e-3. {@link #LOGIT_TOLERANCE} = 1.5e-2 sits above that noise and far
 * below what any defect produces (a wrong RoPE pairing, norm or GQA mapping moves logits by whole
 * units, and one bad layer by at least 0.1).
 *
 * <p>Ids: a case may differ only at a near tie: at the first differing step, the reference's token is
 * the engine's runner-up and the engine's top-2 logits are within {@link #NEAR_TIE}. Such cases are
 * printed and counted, never hidden; any other difference fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReferenceGreedyTest {
    static final double LOGIT_TOLERANCE = 1.5e-2;
    static final double NEAR_TIE = 1e-2;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<String> nearTies = new ArrayList<>();
    private double maxLogitDeviation;
    private String worstCase = "";

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("qs-tiny", "qs-small")) {
            JsonNode root = JSON.readTree(TestFiles.reference(model + "-greedy.json").toFile());
            for (JsonNode c : root.get("cases")) {
                out.add(Arguments.of(model, c.get("id").asText(), c));
            }
        }
        return out.stream();
    }

    @BeforeAll
    void reset() {
        nearTies.clear();
        maxLogitDeviation = 0;
    }

    @AfterAll
    void summary() {
        System.out.printf("ReferenceGreedyTest: max |logit - HF| = %.2e (%s); near-tie cases: %s%n",
                maxLogitDeviation, worstCase, nearTies.isEmpty() ? "none" : nearTies);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void should_match_the_hugging_face_reference(String model, String id, JsonNode c) {
        // given
        QuantSpecEngine engine = model.equals("qs-tiny") ? Engines.qsTiny() : Engines.qsSmall();
        int[] prompt = ints(c.get("prompt_ids"));
        int[] expected = ints(c.get("greedy_ids"));
        JsonNode top5 = c.get("top5_first_steps");

        // when: step-by-step greedy decoding that keeps each step's logits
        Stepper stepper = new Stepper(engine, prompt.length + expected.length);
        float[] logits = stepper.prefill(prompt);
        int[] ours = new int[expected.length];
        float[] gapAt = new float[expected.length];
        String runnerUpAt[] = new String[expected.length];
        for (int i = 0; i < expected.length; i++) {
            if (i < top5.size()) {
                checkTop5(logits, top5.get(i), model + "/" + id + " step " + i);
            }
            int best = TokenDistribution.argmax(logits, 0, logits.length);
            int second = runnerUp(logits, best);
            ours[i] = best;
            gapAt[i] = logits[best] - logits[second];
            runnerUpAt[i] = Integer.toString(second);
            if (i + 1 < expected.length) {
                logits = stepper.step(best, prompt.length + i);
            }
        }

        // then
        int firstDiff = firstDifference(ours, expected);
        if (firstDiff >= 0) {
            boolean nearTie = gapAt[firstDiff] <= NEAR_TIE && runnerUpAt[firstDiff].equals(Integer.toString(expected[firstDiff]));
            assertThat(nearTie)
                    .as("%s/%s differs from the reference at step %d (ours %d, reference %d, our top-2 gap %.4f)",
                            model, id, firstDiff, ours[firstDiff], expected[firstDiff], gapAt[firstDiff])
                    .isTrue();
            synchronized (nearTies) {
                nearTies.add(model + "/" + id + "@" + firstDiff + " (gap " + gapAt[firstDiff] + ")");
            }
            return;
        }
        // and the public generate() path produces the same ids (short prompts: it repeats the prefill)
        if (prompt.length > 256) {
            return;
        }
        GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, expected.length).withIgnoreEos(true));
        assertThat(r.ids()).as("%s/%s through QuantSpecEngine.generate", model, id).containsExactly(expected);
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    private void checkTop5(float[] logits, JsonNode ref, String where) {
        int[] ids = ints(ref.get("ids"));
        JsonNode values = ref.get("logits");
        for (int k = 0; k < ids.length; k++) {
            double deviation = Math.abs(logits[ids[k]] - values.get(k).asDouble());
            synchronized (nearTies) {
                if (deviation > maxLogitDeviation) {
                    maxLogitDeviation = deviation;
                    worstCase = where;
                }
            }
            assertThat(deviation).as("%s: logit of token %d (rank %d): ours %f, HF %f", where, ids[k], k,
                    logits[ids[k]], values.get(k).asDouble()).isLessThanOrEqualTo(LOGIT_TOLERANCE);
        }
    }

    private static int runnerUp(float[] logits, int best) {
        int second = best == 0 ? 1 : 0;
        for (int i = 0; i < logits.length; i++) {
            if (i != best && logits[i] > logits[second]) {
                second = i;
            }
        }
        return second;
    }

    private static int firstDifference(int[] a, int[] b) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return -1;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /** Drives the CPU transformer directly so each step's logits can be inspected. */
    static final class Stepper {
        private final QuantSpecEngine engine;
        private final CpuTransformer model;
        private final KvCache cache;
        private final ForwardState state;
        private final int vocab;
        private final int[] one = new int[1];

        Stepper(QuantSpecEngine engine, int capacity) {
            this.engine = engine;
            LlamaConfig config = engine.config();
            this.model = new CpuTransformer(config, SHARED_POOL, engine.contextLength());
            this.cache = new FullPrecisionKvCache(KvShape.of(config), capacity);
            this.state = new ForwardState(config, 64, 1, SHARED_POOL.threads(), cache.scratchSize());
            this.vocab = config.vocabSize();
        }

        float[] prefill(int[] prompt) {
            cache.reserve(prompt.length);
            for (int start = 0; start < prompt.length; start += 64) {
                int n = Math.min(64, prompt.length - start);
                model.forward(engine.targetWeights(), prompt, start, n, start, cache, KvView.TARGET, state, false);
            }
            cache.accept(prompt.length);
            return java.util.Arrays.copyOf(state.logits, vocab);
        }

        float[] step(int token, int pos) {
            one[0] = token;
            cache.reserve(pos + 1);
            model.forward(engine.targetWeights(), one, 0, 1, pos, cache, KvView.TARGET, state, false);
            cache.accept(pos + 1);
            return java.util.Arrays.copyOf(state.logits, vocab);
        }
    }

    static final WorkerPool SHARED_POOL = new WorkerPool(Runtime.getRuntime().availableProcessors());
}
