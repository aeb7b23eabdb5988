package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.quantspec.testing.ChiSquare;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The acceptance rule on synthetic distributions: whatever the draft proposes, the first emitted
 * token is distributed as the target's p. A deliberately wrong rule (accept every draft) must be
 * rejected by the same test, which shows the test has the power to fail.
 */
class SpeculativeSamplingTest {
    private static final int VOCAB = 6;
    private static final float[] P = {0.30f, 0.25f, 0.20f, 0.15f, 0.10f, 0.00f};
    private static final float[] Q = {0.05f, 0.40f, 0.10f, 0.05f, 0.20f, 0.20f};
    private static final int SAMPLES = 60_000;

    @Test
    void should_emit_tokens_distributed_as_the_target() {
        // given: g = 2 drafts per round, all positions with the same p and q
        SplittableRandom rnd = new SplittableRandom(42);
        long[] first = new long[VOCAB];
        long[] second = new long[VOCAB];
        int g = 2;

        // when
        for (int s = 0; s < SAMPLES; s++) {
            int[] drafts = {0, draw(Q, rnd), draw(Q, rnd)};
            float[] q = concat(Q, Q);
            float[] p = concat(P, P, P);
            long verdict = SpeculativeSampling.verify(drafts, q, p, g, VOCAB, rnd::nextDouble);
            int accepted = (int) (verdict >>> 32);
            int last = (int) verdict;
            first[accepted >= 1 ? drafts[1] : last]++;
            if (accepted >= 1) {
                second[accepted >= 2 ? drafts[2] : last]++;
            }
        }

        // then: the first and the second emitted token both follow p
        ChiSquare.Result r1 = ChiSquare.test(first, toDouble(P));
        ChiSquare.Result r2 = ChiSquare.test(second, toDouble(P));
        assertThat(r1.rejects()).as("first token: chi2 %.1f > %.1f (df %d)", r1.statistic(), r1.critical(), r1.degreesOfFreedom()).isFalse();
        assertThat(r2.rejects()).as("second token: chi2 %.1f > %.1f", r2.statistic(), r2.critical()).isFalse();
        assertThat(first[5]).as("a token the target gives probability 0 is never emitted").isZero();
    }

    @Test
    void should_detect_a_wrong_rule_that_accepts_every_draft() {
        SplittableRandom rnd = new SplittableRandom(43);
        long[] counts = new long[VOCAB];
        for (int s = 0; s < SAMPLES; s++) {
            counts[draw(Q, rnd)]++; // "accept everything" emits the draft distribution
        }
        assertThat(ChiSquare.test(counts, toDouble(P)).rejects()).isTrue();
    }

    @Test
    void should_sample_the_bonus_token_from_the_last_target_row_when_all_drafts_pass() {
        // given: draft equals target, so every draft is accepted
        float[] p = concat(P, new float[] {0, 0, 0, 1, 0, 0});
        long verdict = SpeculativeSampling.verify(new int[] {0, 2}, P.clone(), p, 1, VOCAB, () -> 0.5);
        assertThat(verdict >>> 32).isEqualTo(1);
        assertThat((int) verdict).isEqualTo(3);
    }

    private static int draw(float[] dist, SplittableRandom rnd) {
        return TokenDistribution.sample(dist, dist.length, rnd.nextDouble());
    }

    private static float[] concat(float[]... rows) {
        float[] out = new float[rows.length * VOCAB];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, out, i * VOCAB, VOCAB);
        }
        return out;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
