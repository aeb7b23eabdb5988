package dev.quantspec.generate;

import java.util.Arrays;

/**
 * Turns logits into the probability distribution that {@link SamplingParams} describes. Target and
 * draft distributions of speculative sampling both go through here, so top-k and top-p cut them
 * the same way.
 */
public final class TokenDistribution {
    private final int vocab;
    private final TopTokens top;   // ranks the likeliest ids (only when a cut is needed)
    private final float[] scratch; // [vocab] for writes at an offset

    public TokenDistribution(int vocab) {
        this.vocab = vocab;
        this.top = new TopTokens(vocab);
        this.scratch = new float[vocab];
    }

    /** Index of the largest logit, the lowest index among equals. */
    public static int argmax(float[] logits, int off, int n) {
        int best = 0;
        float bestValue = logits[off];
        for (int i = 1; i < n; i++) {
            if (logits[off + i] > bestValue) {
                bestValue = logits[off + i];
                best = i;
            }
        }
        return best;
    }

    /** Writes the distribution of {@code logits[off .. off+vocab)} under {@code p} into {@code probs[0..vocab)}. */
    public void probabilities(float[] logits, int off, SamplingParams p, float[] probs) {
        probabilities(logits, off, p, probs, 0);
    }

    /** As {@link #probabilities(float[], int, SamplingParams, float[])}, into {@code out[outOff .. outOff+vocab)}. */
    public void probabilities(float[] logits, int off, SamplingParams p, float[] out, int outOff) {
        if (outOff != 0) {
            probabilities(logits, off, p, scratch, 0);
            System.arraycopy(scratch, 0, out, outOff, vocab);
            return;
        }
        float[] probs = out;
        if (p.greedy()) {
            Arrays.fill(probs, 0, vocab, 0f);
            probs[argmax(logits, off, vocab)] = 1f;
            return;
        }
        float invT = 1f / p.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            probs[i] = logits[off + i] * invT;
            max = Math.max(max, probs[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            probs[i] = (float) Math.exp(probs[i] - max);
            sum += probs[i];
        }
        normalize(probs, sum);
        boolean cutK = p.topK() > 0 && p.topK() < vocab;
        boolean cutP = p.topP() < 1f;
        if (!cutK && !cutP) {
            return;
        }
        // The ids in order of probability (ties: lower id first) up to the first that completes top-k or
        // reaches top-p's mass; only that prefix is ranked (sorting the whole vocabulary cost milliseconds).
        int ranked = top.rank(probs, cutK ? p.topK() : vocab, cutP ? p.topP() : Double.POSITIVE_INFINITY);
        int keep = cutK ? Math.min(p.topK(), ranked) : ranked;
        if (cutP) {
            // Smallest prefix whose mass reaches topP; the token that crosses it is kept.
            double mass = 0;
            int k = 0;
            while (k < keep) {
                mass += probs[top.id(k)];
                k++;
                if (mass >= p.topP()) {
                    break;
                }
            }
            keep = k;
        }
        double kept = 0;
        for (int r = 0; r < keep; r++) {
            kept += probs[top.id(r)];
        }
        top.zeroAllBut(probs, keep);
        normalize(probs, kept);
    }

    private void normalize(float[] probs, double sum) {
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < vocab; i++) {
            probs[i] *= inv;
        }
    }

    /** Draws an index from {@code probs[0..n)} with the uniform number {@code u} in [0, 1). */
    public static int sample(float[] probs, int n, double u) {
        return sample(probs, 0, n, u);
    }

    /** Draws an index from {@code probs[off .. off+n)}. */
    public static int sample(float[] probs, int off, int n, double u) {
        double cdf = 0;
        int last = -1;
        for (int i = 0; i < n; i++) {
            if (probs[off + i] > 0f) {
                cdf += probs[off + i];
                last = i;
                if (u < cdf) {
                    return i;
                }
            }
        }
        return last; // rounding left u above the total mass: take the last token with mass
    }
}
