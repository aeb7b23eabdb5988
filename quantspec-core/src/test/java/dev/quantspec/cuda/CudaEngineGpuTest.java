package dev.quantspec.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.generate.SamplingParams;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import dev.quantspec.safetensors.WeightFiles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine's normal generate() API on the CUDA backend (qs-tiny, GPU hosts only). */
@Tag("gpu")
class CudaEngineGpuTest {
    private static QuantSpecEngine engine;

    @BeforeAll
    static void load() {
        engine = QuantSpecEngine.load(TestFiles.qsTiny(), EngineOptions.defaults().withBackend(Backend.AUTO)
                .withContextLength(4096));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    @Test
    void should_pick_cuda_for_auto_and_generate_what_the_gpu_model_computes_step_by_step() throws IOException {
        // given the reference cases and the GPU model driven directly (CudaTransformerGpuTest checks
        // it against the Hugging Face logits, near ties included)
        JsonNode reference = new ObjectMapper().readTree(TestFiles.reference("qs-tiny-greedy.json").toFile());
        List<String> parted = new ArrayList<>();
        assertThat(engine.backend()).isEqualTo(Backend.CUDA);
        try (CudaContext context = CudaRuntime.get().open(0);
             WeightFiles files = WeightFiles.open(TestFiles.qsTiny());
             CudaTransformer direct = new CudaTransformer(context, engine.config(), files, 4096)) {
            for (JsonNode c : reference.get("cases")) {
                int[] prompt = ints(c.get("prompt_ids"));
                int[] expected = ints(c.get("greedy_ids"));
                int[] stepped = new int[expected.length];
                stepped[0] = direct.prefill(prompt, 0);
                for (int i = 1; i < stepped.length; i++) stepped[i] = direct.step(stepped[i - 1], prompt.length + i - 1);
                // when generated through the engine (EOS ignored: the reference runs its full length)
                GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, expected.length).withIgnoreEos(true));
                // then the engine returns exactly the model's greedy tokens
                assertThat(r.ids()).as("case %s", c.get("id").asText()).containsExactly(stepped);
                assertThat(r.stats().decodeTokensPerSecond()).isPositive();
                if (!Arrays.equals(r.ids(), expected)) parted.add(c.get("id").asText());
            }
        }
        // and all but the known near tie (pub-8-3000, top-2 margin 4e-4 at step 28) match the reference
        System.out.println("engine on CUDA: cases that parted from the reference: " + parted);
        assertThat(parted).as("cases whose greedy ids differ from the Hugging Face reference").hasSizeLessThanOrEqualTo(1);
    }

    @Test
    void should_sample_reproducibly_with_a_seed_on_the_gpu() {
        // given a prompt and a seeded sampling request
        int[] prompt = {0, 100, 200, 300};
        GenerationRequest req = GenerationRequest.greedy(prompt, 32).withIgnoreEos(true)
                .withSampling(new SamplingParams(0.9f, 50, 0.95f, 1234L));
        // when run twice
        GenerationResult a = engine.generate(req);
        GenerationResult b = engine.generate(req);
        // then both give the same 32 tokens
        assertThat(ids(a)).hasSize(32).containsExactly(ids(b));
    }

    @Test
    void should_refuse_a_gamma_above_what_the_gpu_model_was_built_for() {
        // given a QuantSpec request with gamma 20 (the engine builds passes for max(gamma option, 8) + 1 rows)
        GenerationRequest req = GenerationRequest.greedy(new int[] {0, 5}, 4)
                .withDecoder(DecoderKind.QUANTSPEC, KvCacheKind.HIERARCHICAL, 20);
        // when / then
        assertThatThrownBy(() -> engine.generate(req)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gamma 20");
    }

    private static int[] ids(GenerationResult r) {
        return r.ids();
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
