package dev.quantspec.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.safetensors.WeightFiles;
import dev.quantspec.testing.TestFiles;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Chunked tensor-core prefill against the step-by-step path (one decode step per prompt position)
 * on qs-tiny, for every prompt of qs-tiny-greedy.json (32, 256, 900 and 3000 tokens: below, at and
 * not at a multiple of the chunk), and the cuBLAS products against scalar references.
 */
@Tag("gpu")
class ChunkedPrefillGpuTest {
    /**
     * Logit tolerance, chunked vs stepped. The paths differ only in rounding: chunked prefill feeds
     * the GEMMs bf16 activations (each rounded by up to 2^-9 relative; the step path's GEMV reads them
     * in fp32) and fp16 queries and softmax probabilities (2^-11), and sums in another order. Through 4
     * layers onto logits of magnitude ~10-20 that is of the order of 1e-2; 0.1 leaves margin, while a
     * wrong position, head, mask or chunk boundary moves logits by 0.5 and more (the same bound the
     * HF comparison of CudaTransformerGpuTest relies on).
     */
    private static final double LOGIT_TOLERANCE = 0.1;
    /** Below this top-2 margin of the stepped logits a different argmax is a near tie, not an error. */
    private static final double NEAR_TIE = 0.1;
    /** Decode steps after the prefill that are compared too (they read the cache the prefill wrote). */
    private static final int STEPS_AFTER = 4;

    @Test
    void should_match_the_step_by_step_prefill_on_every_reference_prompt_of_qs_tiny() throws IOException {
        // given qs-tiny, the reference prompts and a chunk of 256 positions
        JsonNode reference = new ObjectMapper().readTree(TestFiles.reference("qs-tiny-greedy.json").toFile());
        LlamaConfig config = LlamaConfig.load(TestFiles.qsTiny());
        double worst = 0, worstHf = 0;
        List<String> nearTies = new ArrayList<>();
        try (CudaContext context = CudaRuntime.get().open(0);
             WeightFiles files = WeightFiles.open(TestFiles.qsTiny());
             CudaTransformer model = new CudaTransformer(context, config, files, 3100)) {
            model.setPrefillChunk(256);
            for (JsonNode c : reference.get("cases")) {
                String id = c.get("id").asText();
                int[] prompt = ints(c.get("prompt_ids"));
                // when the prompt is prefilled step by step, then in chunks (each followed by the same decode steps)
                Run stepped = run(model, prompt, false, null);
                Run chunked = run(model, prompt, true, stepped.tokens);

                // then the next-token argmax and the logits agree after the prompt and in the steps after it
                for (int s = 0; s <= STEPS_AFTER; s++) {
                    worst = Math.max(worst, compare(id + " step " + s, stepped.logits.get(s), chunked.logits.get(s),
                            stepped.tokens[s], chunked.tokens[s], nearTies));
                }
                JsonNode top = c.get("top5_first_steps").get(0);
                for (int j = 0; j < top.get("ids").size(); j++) {
                    worstHf = Math.max(worstHf, Math.abs(chunked.logits.get(0)[top.get("ids").get(j).asInt()]
                            - top.get("logits").get(j).asDouble()));
                }
            }
        }
        System.out.printf(Locale.ROOT, "chunked prefill (chunk 256) vs stepped, 28 prompts x %d steps: worst logit "
                + "difference %.5f; worst top-5 difference to the HF fp32 reference after the prompt %.5f; near ties %s%n",
                STEPS_AFTER + 1, worst, worstHf, nearTies);
    }

    @Test
    void should_give_the_same_result_for_any_chunk_length() throws IOException {
        // given a 900-token prompt and qs-tiny
        LlamaConfig config = LlamaConfig.load(TestFiles.qsTiny());
        int[] prompt = new SplittableRandom(3).ints(900, 2, config.vocabSize()).toArray();
        try (CudaContext context = CudaRuntime.get().open(0);
             WeightFiles files = WeightFiles.open(TestFiles.qsTiny());
             CudaTransformer model = new CudaTransformer(context, config, files, 1000)) {
            Run stepped = run(model, prompt, false, null);
            List<String> nearTies = new ArrayList<>();
            for (int chunk : new int[] {1, 37, 512, 900, 4096}) {
                // when it is prefilled in chunks of 1, 37, 512, 900 and (capped at the cache) 4096 positions
                model.setPrefillChunk(chunk);
                Run chunked = run(model, prompt, true, stepped.tokens);
                // then every chunking agrees with the stepped path
                double worst = 0;
                for (int s = 0; s <= STEPS_AFTER; s++) {
                    worst = Math.max(worst, compare("chunk " + chunk + " step " + s, stepped.logits.get(s),
                            chunked.logits.get(s), stepped.tokens[s], chunked.tokens[s], nearTies));
                }
                System.out.printf(Locale.ROOT, "chunk %d: worst logit difference %.5f%n", chunk, worst);
            }
            assertThat(nearTies).as("random prompt: no near ties expected").isEmpty();
        }
    }

    @Test
    void should_continue_a_prompt_from_a_nonzero_start_position() throws IOException {
        // given a 300-token prompt split at position 123
        LlamaConfig config = LlamaConfig.load(TestFiles.qsTiny());
        int[] prompt = new SplittableRandom(5).ints(300, 2, config.vocabSize()).toArray();
        int[] head = java.util.Arrays.copyOfRange(prompt, 0, 123);
        int[] tail = java.util.Arrays.copyOfRange(prompt, 123, 300);
        try (CudaContext context = CudaRuntime.get().open(0);
             WeightFiles files = WeightFiles.open(TestFiles.qsTiny());
             CudaTransformer model = new CudaTransformer(context, config, files, 400)) {
            model.setPrefillChunk(64);
            // when it is prefilled whole, then as two calls (the second starting at 123)
            int whole = model.prefill(prompt, 0);
            float[] wholeLogits = model.logits();
            model.prefill(head, 0);
            int parts = model.prefill(tail, 123);
            // then the result agrees within the tolerance (the chunks differ, so GEMM shapes and roundings may too)
            List<String> nearTies = new ArrayList<>();
            double worst = compare("split at 123", wholeLogits, model.logits(), whole, parts, nearTies);
            System.out.printf(Locale.ROOT, "prefill split at 123 vs whole: worst logit difference %.5f%n", worst);
        }
    }

    @Test
    void should_multiply_awkward_sizes_like_a_scalar_reference() {
        // given random bf16 A[37][72], W[45][72] and an fp32 C to accumulate into
        int rows = 37, n = 45, k = 72;
        SplittableRandom random = new SplittableRandom(11);
        short[] a = bf16(random, rows * k), w = bf16(random, n * k);
        float[] c0 = new float[rows * n];
        for (int i = 0; i < c0.length; i++) c0[i] = (float) random.nextDouble(-1, 1);
        try (CudaContext context = CudaRuntime.get().open(0);
             TensorCoreGemm gemm = new TensorCoreGemm(context);
             DeviceBuffer da = context.allocate("A", a.length * 2L);
             DeviceBuffer dw = context.allocate("W", w.length * 2L);
             DeviceBuffer dc = context.allocate("C", c0.length * 4L)) {
            da.upload(a);
            dw.upload(w);
            dc.upload(c0);
            // when C += A . W^T runs on tensor cores
            gemm.linear(da, dw, dc, rows, n, k, true);
            float[] got = dc.downloadFloats(c0.length);
            // then it equals the double-precision product of the same bf16 values (fp32 accumulation: ~1e-6 relative)
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < n; j++) {
                    double want = c0[r * n + j];
                    for (int i = 0; i < k; i++) {
                        want += (double) HalfFloats.bf16ToFloat(a[r * k + i]) * HalfFloats.bf16ToFloat(w[j * k + i]);
                    }
                    assertThat((double) got[r * n + j]).as("C[%d][%d]", r, j).isCloseTo(want, Offset.offset(1e-4));
                }
            }
        }
    }

    @Test
    void should_run_batched_fp16_products_with_both_layouts_of_b() {
        // given 3 batches of fp16 A[5][24] and B (as [19][24] transposed, and as [24][19])
        int batches = 3, m = 5, n = 19, k = 24;
        SplittableRandom random = new SplittableRandom(13);
        short[] a = f16(random, batches * m * k), b = f16(random, batches * n * k);
        try (CudaContext context = CudaRuntime.get().open(0);
             TensorCoreGemm gemm = new TensorCoreGemm(context);
             DeviceBuffer da = context.allocate("A", a.length * 2L);
             DeviceBuffer db = context.allocate("B", b.length * 2L);
             DeviceBuffer dc = context.allocate("C", batches * m * n * 4L)) {
            da.upload(a);
            db.upload(b);
            for (boolean transposeB : new boolean[] {true, false}) {
                // when C_b = 0.5 A_b . op(B_b) runs batched
                int ldb = transposeB ? k : n;
                gemm.batchedF16(batches, m, n, k, 0.5f, transposeB, da, k, (long) m * k, db, ldb, (long) n * k,
                        dc, n, (long) m * n, "test");
                float[] got = dc.downloadFloats(batches * m * n);
                // then each element is the scaled scalar product
                for (int t = 0; t < batches; t++) {
                    for (int r = 0; r < m; r++) {
                        for (int j = 0; j < n; j++) {
                            double want = 0;
                            for (int i = 0; i < k; i++) {
                                int bIndex = t * n * k + (transposeB ? j * k + i : i * n + j);
                                want += (double) HalfFloats.halfToFloat(a[t * m * k + r * k + i])
                                        * HalfFloats.halfToFloat(b[bIndex]);
                            }
                            assertThat((double) got[t * m * n + r * n + j]).as("transposeB %b C[%d][%d][%d]",
                                    transposeB, t, r, j).isCloseTo(0.5 * want, Offset.offset(1e-4));
                        }
                    }
                }
            }
        }
    }

    /** Logits after the prompt and after each of the teacher-forced steps that follow, and the greedy tokens. */
    private record Run(List<float[]> logits, int[] tokens) {}

    /** Prefills {@code prompt} at 0, then steps the stepped run's tokens (or its own when {@code follow} is null). */
    private static Run run(CudaTransformer model, int[] prompt, boolean chunked, int[] follow) {
        model.setChunkedPrefill(chunked);
        List<float[]> logits = new ArrayList<>();
        int[] tokens = new int[STEPS_AFTER + 1];
        tokens[0] = model.prefill(prompt, 0);
        logits.add(model.logits());
        for (int s = 1; s <= STEPS_AFTER; s++) {
            int feed = follow != null ? follow[s - 1] : tokens[s - 1];
            tokens[s] = model.step(feed, prompt.length + s - 1);
            logits.add(model.logits());
        }
        return new Run(logits, tokens);
    }

    /** Asserts the tolerance and the argmax (or a near tie); returns the largest logit difference. */
    private static double compare(String what, float[] stepped, float[] chunked, int steppedToken, int chunkedToken,
                                  List<String> nearTies) {
        double worst = 0;
        for (int i = 0; i < stepped.length; i++) worst = Math.max(worst, Math.abs(stepped[i] - chunked[i]));
        assertThat(worst).as("%s: largest logit difference, chunked vs stepped", what).isLessThan(LOGIT_TOLERANCE);
        if (steppedToken != chunkedToken) {
            double margin = stepped[steppedToken] - stepped[chunkedToken];
            assertThat(margin).as("%s: stepped argmax %d, chunked %d", what, steppedToken, chunkedToken).isLessThan(NEAR_TIE);
            nearTies.add(what + " (margin " + margin + ")");
        }
        return worst;
    }

    private static short[] bf16(SplittableRandom random, int n) {
        short[] out = new short[n];
        for (int i = 0; i < n; i++) out[i] = HalfFloats.floatToBf16((float) random.nextDouble(-1, 1));
        return out;
    }

    private static short[] f16(SplittableRandom random, int n) {
        short[] out = new short[n];
        for (int i = 0; i < n; i++) out[i] = HalfFloats.floatToHalf((float) random.nextDouble(-1, 1));
        return out;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
