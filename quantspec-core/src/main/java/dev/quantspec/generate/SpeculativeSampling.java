package dev.quantspec.generate;

import java.util.function.DoubleSupplier;

/**
 * The acceptance rule of speculative sampling (Leviathan et al., Chen et al.), which makes the
 * emitted tokens distributed exactly as the target's.
 *
 * <p>For drafts x_1..x_g drawn from the draft distributions q_1..q_g, with target distributions
 * p_1..p_{g+1} at the same positions: accept x_i with probability min(1, p_i(x_i) / q_i(x_i)); at the
 * first rejection draw the round's last token from normalize(max(0, p_i - q_i)); if all g are
 * accepted draw a bonus token from p_{g+1}. P(emit y at step i) = q(y) min(1, p(y)/q(y)) +
 * (1 - sum_z min(q(z), p(z))) * max(0, p(y) - q(y)) / sum_z max(0, p(z) - q(z)) = p(y).
 */
final class SpeculativeSampling {
    private SpeculativeSampling() {}

    /**
     * @param drafts  drafts[1..g] are the drafted tokens (drafts[0] is the round's input, unused)
     * @param q       [g][vocab] draft distributions, row i-1 for drafts[i]
     * @param p       [g+1][vocab] target distributions; row i-1 scores drafts[i], row g gives the bonus;
     *                rows may be overwritten
     * @param uniform draws in [0, 1)
     * @return {@code accepted << 32 | lastToken}: drafts accepted, and the token that ends the round
     */
    static long verify(int[] drafts, float[] q, float[] p, int g, int vocab, DoubleSupplier uniform) {
        for (int i = 0; i < g; i++) {
            int x = drafts[i + 1];
            float px = p[i * vocab + x];
            float qx = q[i * vocab + x];
            // accept with probability min(1, px/qx), tested as u*qx < px to avoid a division
            if (qx > 0f && uniform.getAsDouble() * qx < px) {
                continue;
            }
            int last = sampleResidual(p, i * vocab, q, i * vocab, vocab, uniform.getAsDouble());
            return ((long) i << 32) | last;
        }
        int bonus = TokenDistribution.sample(p, g * vocab, vocab, uniform.getAsDouble());
        return ((long) g << 32) | bonus;
    }

    /** Draws from normalize(max(0, p - q)); from p itself when that has no mass (then p equals q). */
    static int sampleResidual(float[] p, int pOff, float[] q, int qOff, int vocab, double u) {
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            float d = p[pOff + i] - q[qOff + i];
            if (d > 0f) {
                sum += d;
            }
        }
        if (sum <= 0) {
            return TokenDistribution.sample(p, pOff, vocab, u);
        }
        double target = u * sum;
        double cdf = 0;
        int last = -1;
        for (int i = 0; i < vocab; i++) {
            float d = p[pOff + i] - q[qOff + i];
            if (d > 0f) {
                cdf += d;
                last = i;
                if (target < cdf) {
                    return i;
                }
            }
        }
        return last;
    }
}
