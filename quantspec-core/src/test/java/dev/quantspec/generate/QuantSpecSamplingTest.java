package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.QuantSpecEngine;
import dev.quantspec.testing.ChiSquare;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * End to end on qs-tiny: QuantSpec sampling emits sequences distributed as the target model's.
 * The exact target probabilities of every (t1, t2) pair under top-k 4 are computed with the
 * engine's own autoregressive path (greedy over forced prefixes), then compared by chi-square with
 * the pairs QuantSpec samples (t2 comes from the first speculative round).
 */
class QuantSpecSamplingTest {
    private static final int K = 4;
    private static final int SAMPLES = 1500;

    @Test
    void should_sample_pairs_of_tokens_with_the_target_distribution() {
        // given
        QuantSpecEngine engine = QuantSpecLosslessTest.engine("qs-tiny");
        int[] prompt = engine.tokenizer().encode("The configuration file");
        SamplingParams sampling = new SamplingParams(1.0f, K, 1.0f, 0);
        double[][] joint = exactPairProbabilities(engine, prompt, sampling);
        int vocab = engine.config().vocabSize();
        int[] t1s = topIds(joint);

        // when
        long[] observed = new long[K * K + 1]; // last cell: pairs outside the expected support
        GenerationRequest base = new GenerationRequest(prompt, 6, sampling, List.of(), true,
                DecoderKind.QUANTSPEC, KvCacheKind.HIERARCHICAL, 4);
        long drafted = 0, accepted = 0;
        for (int s = 0; s < SAMPLES; s++) {
            GenerationResult r = engine.generate(base.withSampling(new SamplingParams(1.0f, K, 1.0f, 1000 + s)));
            int[] ids = r.ids();
            int cell = cellOf(joint, t1s, ids[0], ids[1], vocab);
            observed[cell < 0 ? K * K : cell]++;
            drafted += r.stats().drafted();
            accepted += r.stats().accepted();
        }

        // then
        double[] expected = new double[K * K + 1];
        for (int a = 0; a < K; a++) {
            for (int b = 0; b < K; b++) {
                expected[a * K + b] = joint[a][b];
            }
        }
        ChiSquare.Result r = ChiSquare.test(observed, expected);
        assertThat(observed[K * K]).as("pairs outside the top-k support").isZero();
        assertThat(r.rejects()).as("chi2 %.1f > critical %.1f (df %d); acceptance %.2f",
                r.statistic(), r.critical(), r.degreesOfFreedom(), (double) accepted / drafted).isFalse();
        assertThat(drafted).isPositive();
    }

    /** joint[a][b] = p(t1 = a-th top token) * p(t2 = b-th top token of its own row | t1). */
    private static double[][] exactPairProbabilities(QuantSpecEngine engine, int[] prompt, SamplingParams sampling) {
        int vocab = engine.config().vocabSize();
        TokenDistribution dist = new TokenDistribution(vocab);
        float[] p1 = new float[vocab];
        dist.probabilities(logitsAfter(engine, prompt), 0, sampling, p1);
        int[] first = topK(p1);
        double[][] joint = new double[K][K];
        T2_IDS = new int[K][];
        for (int a = 0; a < K; a++) {
            int[] prefix = java.util.Arrays.copyOf(prompt, prompt.length + 1);
            prefix[prompt.length] = first[a];
            float[] p2 = new float[vocab];
            dist.probabilities(logitsAfter(engine, prefix), 0, sampling, p2);
            T2_IDS[a] = topK(p2);
            for (int b = 0; b < K; b++) {
                joint[a][b] = p1[first[a]] * p2[T2_IDS[a][b]];
            }
        }
        T1_IDS = first;
        return joint;
    }

    private static int[] T1_IDS;
    private static int[][] T2_IDS;

    private static int[] topIds(double[][] joint) {
        return T1_IDS;
    }

    private static int cellOf(double[][] joint, int[] t1s, int t1, int t2, int vocab) {
        for (int a = 0; a < K; a++) {
            if (t1s[a] == t1) {
                for (int b = 0; b < K; b++) {
                    if (T2_IDS[a][b] == t2) {
                        return a * K + b;
                    }
                }
            }
        }
        return -1;
    }

    /** Target logits for the next token after {@code ids}, through the fp32 reference stepper. */
    private static float[] logitsAfter(QuantSpecEngine engine, int[] ids) {
        return new ReferenceGreedyTest.Stepper(engine, ids.length + 1).prefill(ids);
    }

    private static int[] topK(float[] p) {
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < p.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Float.compare(p[y], p[x]));
        int[] out = new int[K];
        for (int i = 0; i < K; i++) {
            out[i] = order[i];
        }
        return out;
    }
}
