package dev.quantspec.cuda;

import dev.quantspec.generate.SamplingParams;
import dev.quantspec.generate.TokenDistribution;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link DeviceSampler} (qs_sample) against the CPU's {@link TokenDistribution}: the histogram of many
 * draws against {@code probabilities} (chi-square, with a negative control that must fail), the id of
 * each draw against {@code sample} for the same u, and the tie and cut rules. Seeds are fixed, so every
 * run sees the same logits and the same u's. Runs only on a GPU host: scripts/gpu-run.sh.
 */
@Tag("gpu")
class DeviceSamplerGpuTest {
    private static CudaContext context;
    private static DeviceSampler sampler;

    @BeforeAll
    static void openDevice() {
        context = CudaRuntime.get().open(0);
        sampler = new DeviceSampler(context);
    }

    @AfterAll
    static void closeDevice() {
        if (sampler != null) sampler.close();
        if (context != null) context.close();
    }

    // ---------------------------------------------------------------- the distribution

    @ParameterizedTest(name = "vocab {0}, T {1}, topK {2}, topP {3}")
    @CsvSource({
            "8192, 1.0, 0, 1.0", "8192, 0.7, 50, 1.0", "8192, 1.0, 0, 0.9", "8192, 1.3, 100, 0.8",
            "32001, 0.9, 1000, 0.99",
            "128256, 1.0, 0, 1.0", "128256, 0.8, 40, 0.95", "128256, 1.0, 0, 0.5"})
    void should_draw_the_cpu_distribution(int vocab, float temperature, int topK, float topP) {
        // given random logits (normal, standard deviation 3: a few thousand ids carry the mass at 128K)
        float[] logits = normalLogits(vocab, 3.0, 11L * vocab + topK);
        float[] expected = cpuProbabilities(logits, temperature, topK, topP);
        int draws = 20_000;
        int[] counts = new int[vocab];
        // when drawn on the device with independent uniform numbers
        SplittableRandom uniforms = new SplittableRandom(42);
        try (DeviceBuffer d = upload(logits)) {
            for (int n = 0; n < draws; n++) {
                counts[sampler.sample(d, vocab, temperature, topK, topP, uniforms.nextDouble())]++;
            }
        }
        // then no id outside the CPU's kept set is ever drawn
        for (int id = 0; id < vocab; id++) {
            if (expected[id] == 0f) assertThat(counts[id]).as("draws of id %d, cut on the CPU", id).isZero();
        }
        // and the histogram fits the CPU's probabilities (z of the chi-square statistic; 4.5 is p ~ 3e-6)
        double z = chiSquareZ(counts, expected, draws);
        assertThat(z).as("chi-square z against the CPU distribution").isLessThan(4.5);
        // negative control: the same draws against the distribution at 1.3 x the temperature must fail
        double zWrong = chiSquareZ(counts, cpuProbabilities(logits, temperature * 1.3f, topK, topP), draws);
        assertThat(zWrong).as("chi-square z against a wrong temperature (the test's power)").isGreaterThan(20.0);
    }

    @ParameterizedTest(name = "vocab {0}, T {1}, topK {2}, topP {3}")
    @CsvSource({
            "8192, 1.0, 0, 1.0", "8192, 0.7, 50, 1.0", "8192, 1.3, 100, 0.8", "1000, 1.0, 0, 0.9",
            "5, 2.0, 0, 1.0", "32001, 0.9, 1000, 0.99",
            "128256, 1.0, 0, 1.0", "128256, 0.8, 40, 0.95", "262144, 1.1, 0, 0.7"})
    void should_draw_the_cpu_id_for_the_same_u(int vocab, float temperature, int topK, float topP) {
        // given random logits
        float[] logits = normalLogits(vocab, 3.0, 7L * vocab + topK);
        // when 2000 u's are drawn on both: then a different id is only ever the neighbour across a
        // boundary that float summation order moved, and such draws are rare (expected ~0.2% at 128K
        // without a cut, from the CPU's normalisation by a rounded 1 / sum)
        int mismatches = compareWithCpu(logits, temperature, topK, topP, 2000, 0, vocab);
        assertThat(mismatches).as("draws where the GPU and CPU ids differ, of 2000").isLessThanOrEqualTo(20);
    }

    // ---------------------------------------------------------------- ties and cuts

    @Test
    void should_keep_the_lowest_ids_among_equal_logits() {
        int vocab = 8192;
        float[] equal = new float[vocab];
        Arrays.fill(equal, 0.25f);
        // top-k 10 of 8192 equal logits keeps ids 0..9; top-p 0.25 keeps ids 0..2047 (2048 x 2^-13 = 0.25)
        assertSameIdsAsCpu(equal, 1.0f, 10, 1f, 0, 10);
        assertSameIdsAsCpu(equal, 0.7f, 0, 0.25f, 0, 2048);
        assertSameIdsAsCpu(equal, 1.0f, 1, 1f, 0, 1);
        // a plateau of ~1170 ids at the top (logit 6 = i % 7) cut to its lowest 1000 by top-k
        float[] plateau = new float[vocab];
        for (int i = 0; i < vocab; i++) plateau[i] = i % 7;
        assertSameIdsAsCpu(plateau, 1.0f, 1000, 1f, 6, 6 + 7 * 999 + 1);
    }

    @Test
    void should_give_the_argmax_for_top_k_one_and_for_a_tiny_top_p() {
        // given random logits whose maximum appears twice (the lower id must win, as in argmax)
        for (int vocab : new int[] {8192, 128256}) {
            float[] logits = normalLogits(vocab, 3.0, vocab);
            int top = TokenDistribution.argmax(logits, 0, vocab);
            int twin = (top + vocab / 2) % vocab;
            logits[twin] = logits[top];
            int argmax = Math.min(top, twin);
            try (DeviceBuffer d = upload(logits)) {
                for (float t : new float[] {0.5f, 1f, 2f}) {
                    for (double u : new double[] {0.0, 0.5, Math.nextDown(1.0)}) {
                        assertThat(sampler.sample(d, vocab, t, 1, 1f, u)).as("topK 1, T %s, u %s", t, u).isEqualTo(argmax);
                        assertThat(sampler.sample(d, vocab, t, 0, 1e-6f, u)).as("topP 1e-6, T %s, u %s", t, u)
                                .isEqualTo(argmax);
                    }
                }
            }
        }
    }

    @Test
    void should_never_draw_a_masked_logit_and_refuse_logits_without_a_maximum() {
        // given logits of -inf (banned ids) but for five ids
        int vocab = 4096;
        float[] logits = new float[vocab];
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        int[] allowed = {3, 700, 701, 2048, 4095};
        for (int i = 0; i < allowed.length; i++) logits[allowed[i]] = i * 0.5f;
        SplittableRandom uniforms = new SplittableRandom(9);
        try (DeviceBuffer d = upload(logits)) {
            for (int n = 0; n < 500; n++) {
                assertThat(sampler.sample(d, vocab, 1f, 0, 1f, uniforms.nextDouble())).isIn(3, 700, 701, 2048, 4095);
            }
        }
        // and all -inf has nothing to draw
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        try (DeviceBuffer d = upload(logits)) {
            assertThatThrownBy(() -> sampler.sample(d, vocab, 1f, 0, 1f, 0.5)).isInstanceOf(IllegalStateException.class);
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Equal logits and plateaus: every draw in [lo, hi), boundary cases (see compareWithCpu) at most 1 in 200. */
    private static void assertSameIdsAsCpu(float[] logits, float temperature, int topK, float topP, int lo, int hi) {
        assertThat(compareWithCpu(logits, temperature, topK, topP, 2000, lo, hi))
                .as("T %s, topK %d, topP %s: draws where the GPU and CPU ids differ", temperature, topK, topP)
                .isLessThanOrEqualTo(10);
    }

    /**
     * Draws {@code draws} u's on the GPU and with {@link TokenDistribution#sample}; asserts each GPU id
     * lies in [lo, hi) with a positive CPU probability, and that where the ids differ u lies within 1e-5
     * of the GPU id's interval of the CPU's cumulative sum (a boundary moved by float summation order).
     *
     * @return the number of draws where the ids differ
     */
    private static int compareWithCpu(float[] logits, float temperature, int topK, float topP, int draws, int lo, int hi) {
        int vocab = logits.length;
        float[] probs = cpuProbabilities(logits, temperature, topK, topP);
        double[] cdf = new double[vocab + 1];
        for (int i = 0; i < vocab; i++) cdf[i + 1] = cdf[i] + probs[i];
        int mismatches = 0;
        SplittableRandom uniforms = new SplittableRandom(4242);
        try (DeviceBuffer d = upload(logits)) {
            for (int n = 0; n < draws; n++) {
                double u = uniforms.nextDouble();
                int gpu = sampler.sample(d, vocab, temperature, topK, topP, u);
                int cpu = TokenDistribution.sample(probs, vocab, u);
                String what = "T " + temperature + ", topK " + topK + ", topP " + topP + ", u " + u + ": GPU id " + gpu
                        + ", CPU id " + cpu;
                assertThat(gpu).as(what).isBetween(lo, hi - 1);
                assertThat(probs[gpu]).as("CPU probability, " + what).isPositive();
                if (gpu != cpu) {
                    mismatches++;
                    assertThat(u).as("u against the CPU interval of the GPU's id, " + what)
                            .isBetween(cdf[gpu] - 1e-5, cdf[gpu + 1] + 1e-5);
                }
            }
        }
        return mismatches;
    }

    private static float[] cpuProbabilities(float[] logits, float temperature, int topK, float topP) {
        float[] probs = new float[logits.length];
        new TokenDistribution(logits.length).probabilities(logits, 0, new SamplingParams(temperature, topK, topP, 0L), probs);
        return probs;
    }

    /**
     * The chi-square statistic of {@code counts} against {@code probs} as a standard normal z
     * (Wilson-Hilferty). Ids are taken in descending order of probability and merged into bins of an
     * expected count of at least 10; a draw of an id of probability 0 gives +infinity.
     */
    static double chiSquareZ(int[] counts, float[] probs, int draws) {
        Integer[] order = new Integer[probs.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(probs[b], probs[a]));
        java.util.List<double[]> bins = new java.util.ArrayList<>();  // {observed, expected}
        double expected = 0, observed = 0;
        for (int id : order) {
            if (probs[id] == 0f) {
                if (counts[id] > 0) return Double.POSITIVE_INFINITY;
                continue;
            }
            expected += (double) probs[id] * draws;
            observed += counts[id];
            if (expected >= 10) {
                bins.add(new double[] {observed, expected});
                expected = 0;
                observed = 0;
            }
        }
        if (bins.isEmpty()) bins.add(new double[] {0, 0});
        bins.get(bins.size() - 1)[0] += observed;  // the tail below 10 expected joins the last bin
        bins.get(bins.size() - 1)[1] += expected;
        double chi2 = 0;
        for (double[] b : bins) chi2 += (b[0] - b[1]) * (b[0] - b[1]) / b[1];
        int df = Math.max(1, bins.size() - 1);
        double a = 2.0 / (9.0 * df);
        return (Math.cbrt(chi2 / df) - (1 - a)) / Math.sqrt(a);
    }

    /** {@code vocab} logits drawn from a normal distribution of standard deviation {@code sd}. */
    static float[] normalLogits(int vocab, double sd, long seed) {
        Random random = new Random(seed);
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float) (random.nextGaussian() * sd);
        return logits;
    }

    private static DeviceBuffer upload(float[] values) {
        DeviceBuffer d = context.allocate("logits f32[" + values.length + "]", values.length * 4L);
        d.upload(values);
        return d;
    }
}
