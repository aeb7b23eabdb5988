package dev.quantspec.generate;

import java.util.SplittableRandom;

/** Chooses a token from a row of logits: argmax when greedy, a draw from the processed distribution otherwise. */
final class TokenPicker {
    private final SamplingParams params;
    private final TokenDistribution distribution;
    private final SplittableRandom random;
    private final int vocab;
    private final float[] probs; // [vocab] scratch

    TokenPicker(SamplingParams params, int vocab) {
        this.params = params;
        this.vocab = vocab;
        this.distribution = new TokenDistribution(vocab);
        this.random = new SplittableRandom(params.seed());
        this.probs = new float[vocab];
    }

    boolean greedy() {
        return params.greedy();
    }

    /** The parameters this picker draws under (for samplers elsewhere, such as the device's). */
    SamplingParams params() {
        return params;
    }

    int pick(float[] logits, int off) {
        if (params.greedy()) {
            return TokenDistribution.argmax(logits, off, vocab);
        }
        distribution.probabilities(logits, off, params, probs);
        return TokenDistribution.sample(probs, vocab, random.nextDouble());
    }

    /** The processed distribution of a row, for speculative sampling. */
    void distribution(float[] logits, int off, float[] out, int outOff) {
        distribution.probabilities(logits, off, params, out, outOff);
    }

    double uniform() {
        return random.nextDouble();
    }

    int sample(float[] p, int off) {
        return TokenDistribution.sample(p, off, vocab, random.nextDouble());
    }
}
