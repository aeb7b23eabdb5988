package dev.quantspec.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.DecodeStats;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.generate.SamplingParams;
import dev.quantspec.kv.HierarchicalCacheConfig;
import dev.quantspec.model.Projection;
import dev.quantspec.safetensors.WeightFiles;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * QuantSpec on the CUDA backend (qs-tiny, GPU hosts only). Greedy QuantSpec must emit exactly what
 * autoregressive decoding with the same hierarchical cache emits on the GPU (a pass of one row per
 * token), over generations that cross many flushes: G = 16 here, so a 100-token prompt is split at
 * prefill and 400 new tokens cross about 25 flushes.
 */
@Tag("gpu")
class CudaQuantSpecGpuTest {
    private static final int G = 16;
    private static final int NEW_TOKENS = 400;
    private static QuantSpecEngine engine;
    private static int[] prompt;
    private static int[] baseline; // autoregressive, hierarchical cache, GPU

    @BeforeAll
    static void load() throws IOException {
        engine = QuantSpecEngine.load(TestFiles.qsTiny(), EngineOptions.defaults().withBackend(Backend.CUDA)
                .withQuantSpec(4, G, Projection.MLP));
        String line = Files.readAllLines(TestFiles.reference("heldout-docs.jsonl")).get(0);
        String text = new ObjectMapper().readTree(line).get("text").asText();
        prompt = Arrays.copyOf(engine.tokenizer().encode(text), 100);
        baseline = engine.generate(request(DecoderKind.AUTOREGRESSIVE, 0)).ids();
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    private static GenerationRequest request(DecoderKind decoder, int gamma) {
        return GenerationRequest.greedy(prompt, NEW_TOKENS).withIgnoreEos(true)
                .withDecoder(decoder, KvCacheKind.HIERARCHICAL, gamma);
    }

    @ParameterizedTest(name = "gamma {0}")
    @CsvSource({"1", "2", "4", "8"})
    void should_emit_exactly_what_autoregressive_decoding_with_the_hierarchical_cache_emits_on_the_gpu(int gamma) {
        // when
        GenerationResult r = engine.generate(request(DecoderKind.QUANTSPEC, gamma));
        // then: token for token, with drafts mostly accepted and rounds that never exceed gamma
        assertThat(r.ids()).hasSize(NEW_TOKENS).containsExactly(baseline);
        DecodeStats s = r.stats();
        System.out.printf("GPU QuantSpec qs-tiny gamma %d: acceptance %.3f, %.2f tokens per target pass, %.0f tok/s%n",
                gamma, s.acceptanceRate(), s.tokensPerTargetPass(), s.decodeTokensPerSecond());
        assertThat(s.drafted()).isPositive();
        assertThat(s.acceptanceRate()).as("acceptance").isGreaterThan(0.5);
        assertThat(s.tokensPerTargetPass()).isGreaterThan(1.0);
        assertThat(Arrays.stream(s.acceptedLengthHistogram()).sum()).isEqualTo(s.targetPasses());
        assertThat(s.acceptedLengthHistogram().length).isLessThanOrEqualTo(gamma + 1);
    }

    /** qs-tiny's weights on the GPU and a CudaQuantSpecModel over them (G = 16, γ up to 4, MLP draft), closed together. */
    private static final class QsTinyOnGpu implements AutoCloseable {
        final CudaContext context;
        final WeightFiles files;
        final DeviceLlamaWeights weights;
        final CudaQuantSpecModel model;

        QsTinyOnGpu() {
            CudaContext c = CudaRuntime.get().open(0);
            WeightFiles f = null;
            DeviceLlamaWeights w = null;
            try {
                f = WeightFiles.open(TestFiles.qsTiny());
                w = DeviceLlamaWeights.fromFiles(c, engine.config(), f);
                model = new CudaQuantSpecModel(c, w, new HierarchicalCacheConfig(G, 64, G), 1024, 4, Projection.MLP,
                        128, false);
            } catch (RuntimeException e) {
                if (w != null) w.close();
                if (f != null) f.close();
                c.close();
                throw e;
            }
            context = c;
            files = f;
            weights = w;
        }

        @Override
        public void close() {
            model.close();
            weights.close();
            files.close();
            context.close();
        }
    }

    @Test
    void should_give_the_same_tokens_from_a_fused_greedy_round_as_from_step_by_step_passes() {
        // given the GPU QuantSpec model on qs-tiny after the prompt (G = 16: rounds also cross flushes)
        try (QsTinyOnGpu gpu = new QsTinyOnGpu()) {
            CudaQuantSpecModel model = gpu.model;
            int input = model.prefill(prompt, 64);
            int quantizedAfterPrefill = model.quantizedLength();
            for (int r = 0; r < 40; r++) {
                int g = Math.min(4, model.positionsBeforeViewChange() - 1);
                int pos = model.length();
                // when a round runs step by step (one graph per pass, tokens through the host) ...
                int[] window = new int[g + 1];
                window[0] = input;
                for (int i = 0; i < g; i++) window[i + 1] = model.draftStep(window[i], i);
                int[] target = model.verify(window, g + 1);
                // ... and again as one fused graph (the same positions are simply rewritten)
                int[] fused = model.greedyRound(input, g);
                // then drafts and target argmax agree exactly
                assertThat(Arrays.copyOfRange(fused, 0, g)).as("drafts of round %d", r)
                        .containsExactly(Arrays.copyOfRange(window, 1, g + 1));
                assertThat(Arrays.copyOfRange(fused, g, 2 * g + 1)).as("target of round %d", r).containsExactly(target);
                int accepted = 0;
                while (accepted < g && window[accepted + 1] == target[accepted]) accepted++;
                model.accept(pos + accepted + 1);
                input = target[accepted];
            }
            assertThat(model.quantizedLength()).as("rounds crossed flushes").isGreaterThanOrEqualTo(quantizedAfterPrefill + 4 * G);
        }
    }

    @Test
    void should_stay_close_to_full_precision_decoding_on_the_gpu() {
        // The INT8 target view changes logits by little: the first tokens agree with the fp16 cache.
        int[] full = engine.generate(GenerationRequest.greedy(prompt, 64).withIgnoreEos(true)).ids();
        int same = 0;
        while (same < full.length && full[same] == baseline[same]) same++;
        System.out.println("GPU hierarchical vs full cache: first divergence after " + same + " tokens");
        assertThat(same).as("tokens before the first divergence").isGreaterThanOrEqualTo(16);
    }

    @Test
    void should_agree_with_the_cpu_hierarchical_decoder_for_the_first_tokens() {
        // The GPU keeps an fp16 buffer and prefills with bf16 tensor-core GEMMs where the CPU keeps fp32,
        // so the two may part at a near tie; they must not part at once.
        try (QuantSpecEngine cpu = QuantSpecEngine.load(TestFiles.qsTiny(), EngineOptions.defaults()
                .withBackend(Backend.CPU).withQuantSpec(4, G, Projection.MLP))) {
            int[] cpuIds = cpu.generate(GenerationRequest.greedy(prompt, 64).withIgnoreEos(true)
                    .withDecoder(DecoderKind.AUTOREGRESSIVE, KvCacheKind.HIERARCHICAL, 0)).ids();
            int same = 0;
            while (same < cpuIds.length && cpuIds[same] == baseline[same]) same++;
            System.out.println("GPU vs CPU hierarchical decoding: first divergence after " + same + " tokens");
            assertThat(same).isGreaterThanOrEqualTo(16);
        }
    }

    @Test
    void should_fail_a_sampled_round_whose_draft_logits_are_nan_and_recover_on_the_next_round() {
        // given the GPU QuantSpec model on qs-tiny after the prompt
        try (QsTinyOnGpu gpu = new QsTinyOnGpu()) {
            CudaQuantSpecModel model = gpu.model;
            int input = model.prefill(prompt, 64);
            double[] uniforms = new double[9];
            Arrays.fill(uniforms, 0.5);
            assertThat(model.sampledRound(input, 4, 0.8f, 0, 1f, uniforms)).hasSize(6);
            // when the LM head turns into NaN (0xffff bf16): the draft's logits have no finite maximum
            gpu.weights.lmHead.fill((byte) 0xff);
            // then the round fails with the reason, carried back in the round's own ints
            assertThatThrownBy(() -> model.sampledRound(input, 4, 0.8f, 0, 1f, uniforms))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("no finite maximum");
            // and once the logits are finite again (all zero: uniform distributions) the next round runs
            gpu.weights.lmHead.fill((byte) 0);
            int[] out = model.sampledRound(input, 4, 0.8f, 0, 1f, uniforms);
            assertThat(out[4]).isBetween(0, 4);
        }
    }

    @Test
    void should_sample_reproducibly_with_a_seed() {
        // given a seeded sampling request
        GenerationRequest req = request(DecoderKind.QUANTSPEC, 4).withSampling(new SamplingParams(0.8f, 40, 0.95f, 77L));
        // when run twice
        GenerationResult a = engine.generate(req);
        GenerationResult b = engine.generate(req);
        // then the same tokens, with drafts accepted at a rate that only a working verifier gives
        assertThat(a.ids()).hasSize(NEW_TOKENS).containsExactly(b.ids());
        assertThat(a.stats().acceptanceRate()).isGreaterThan(0.3);
    }

    @Test
    void should_emit_the_greedy_tokens_when_sampling_keeps_only_the_top_token() {
        // given top-k 1: every distribution is one-hot at its argmax (lowest id among ties), so the device's
        // speculative sampling must reduce to greedy verification, round for round
        GenerationRequest req = request(DecoderKind.QUANTSPEC, 4).withSampling(new SamplingParams(1f, 1, 1f, 5L));
        // when
        GenerationResult r = engine.generate(req);
        // then exactly the greedy autoregressive tokens over the same cache, and the drafts accepted as greedy ones
        assertThat(r.ids()).containsExactly(baseline);
        GenerationResult greedy = engine.generate(request(DecoderKind.QUANTSPEC, 4));
        assertThat(r.stats().accepted()).isEqualTo(greedy.stats().accepted());
    }

    @Test
    void should_serve_a_long_prompt_with_the_default_group_size() throws IOException {
        // given G = 128 and a 1500-token prompt (the prefill split quantizes 1280 tokens on the device)
        try (QuantSpecEngine big = QuantSpecEngine.load(TestFiles.qsTiny(), EngineOptions.defaults()
                .withBackend(Backend.CUDA))) {
            List<String> lines = Files.readAllLines(TestFiles.reference("heldout-docs.jsonl"));
            StringBuilder text = new StringBuilder();
            for (String line : lines) text.append(new ObjectMapper().readTree(line).get("text").asText());
            int[] longPrompt = Arrays.copyOf(big.tokenizer().encode(text.toString()), 1500);
            GenerationRequest base = GenerationRequest.greedy(longPrompt, 300).withIgnoreEos(true);
            // when
            int[] ar = big.generate(base.withDecoder(DecoderKind.AUTOREGRESSIVE, KvCacheKind.HIERARCHICAL, 0)).ids();
            GenerationResult qs = big.generate(base.withDecoder(DecoderKind.QUANTSPEC, KvCacheKind.HIERARCHICAL, 4));
            // then
            assertThat(qs.ids()).containsExactly(ar);
            System.out.printf("GPU QuantSpec qs-tiny, 1500-token prompt, G 128: acceptance %.3f%n",
                    qs.stats().acceptanceRate());
        }
    }
}
