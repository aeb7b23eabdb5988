package dev.quantspec.generate;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The top-k / top-p cut ranks only the prefix it needs ({@link TopTokens}); it must give exactly what
 * ranking the whole vocabulary gives. The oracle below is the plain definition: sort every id by
 * probability (lower id first among equals), keep the first top-k, then the shortest prefix whose
 * mass reaches top-p, renormalise.
 */
class TokenDistributionTest {

    @Test
    void should_cut_bit_for_bit_as_a_full_sort_on_random_distributions() {
        // given: peaked, flat and tied logits at several sizes, every kind of cut
        SplittableRandom rnd = new SplittableRandom(7);
        int checked = 0;
        for (int vocab : new int[] {1, 2, 3, 17, 256, 4099}) {
            TokenDistribution dist = new TokenDistribution(vocab);
            for (int trial = 0; trial < 12; trial++) {
                float[] logits = logits(vocab, trial % 4, rnd);
                for (float temperature : new float[] {0.05f, 0.7f, 1f, 5f}) {
                    for (int topK : new int[] {0, 1, 2, 7, vocab - 1, vocab, vocab + 3}) {
                        for (float topP : new float[] {1e-6f, 0.3f, 0.9f, 0.999999f, 1f}) {
                            SamplingParams p = new SamplingParams(temperature, topK, topP, 0L);
                            float[] got = new float[vocab];

                            // when
                            dist.probabilities(logits, 0, p, got);

                            // then
                            float[] want = fullSortReference(logits, p);
                            assertThat(got).as("vocab %d kind %d T %s k %d p %s", vocab, trial % 4, temperature,
                                    topK, topP).containsExactly(want);
                            checked++;
                        }
                    }
                }
            }
        }
        assertThat(checked).isGreaterThan(5000);
    }

    @Test
    void should_keep_exactly_the_k_likeliest_ids_lowest_first_among_ties() {
        // given: ids 2, 5 and 6 tie for the top; top-k 2 keeps the two lowest of them
        float[] logits = {0f, 1f, 3f, 2f, 0f, 3f, 3f};
        float[] probs = new float[logits.length];

        // when
        new TokenDistribution(logits.length).probabilities(logits, 0, new SamplingParams(1f, 2, 1f, 0L), probs);

        // then
        assertThat(probs).containsExactly(0f, 0f, 0.5f, 0f, 0f, 0.5f, 0f);
    }

    @Test
    void should_keep_the_token_that_crosses_top_p() {
        // given: probabilities 0.5, 0.3, 0.2 (logits are their logs); top-p 0.6 needs the first two
        float[] logits = {(float) Math.log(0.2), (float) Math.log(0.5), (float) Math.log(0.3)};
        float[] probs = new float[3];

        // when
        new TokenDistribution(3).probabilities(logits, 0, new SamplingParams(1f, 0, 0.6f, 0L), probs);

        // then
        assertThat(probs[0]).isZero();
        assertThat(probs[1]).isCloseTo(0.625f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(probs[2]).isCloseTo(0.375f, org.assertj.core.data.Offset.offset(1e-6f));
    }

    /** kind 0: gaussian; 1: few distinct values (many ties); 2: all equal; 3: one dominant id. */
    private static float[] logits(int vocab, int kind, SplittableRandom rnd) {
        float[] logits = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            logits[i] = switch (kind) {
                case 0 -> (float) (rnd.nextGaussian() * 3);
                case 1 -> rnd.nextInt(4);
                case 2 -> 1.5f;
                default -> i == vocab / 2 ? 20f : (float) rnd.nextGaussian();
            };
        }
        return logits;
    }

    /** The definition, with a sort of the whole vocabulary (what TokenDistribution did before TopTokens). */
    private static float[] fullSortReference(float[] logits, SamplingParams p) {
        int vocab = logits.length;
        float[] probs = new float[vocab];
        float invT = 1f / p.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            probs[i] = logits[i] * invT;
            max = Math.max(max, probs[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            probs[i] = (float) Math.exp(probs[i] - max);
            sum += probs[i];
        }
        scale(probs, sum);
        boolean cutK = p.topK() > 0 && p.topK() < vocab;
        boolean cutP = p.topP() < 1f;
        if (!cutK && !cutP) return probs;
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(probs[b], probs[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int keep = cutK ? p.topK() : vocab;
        if (cutP) {
            double mass = 0;
            int k = 0;
            while (k < keep) {
                mass += probs[order[k]];
                k++;
                if (mass >= p.topP()) break;
            }
            keep = k;
        }
        double kept = 0;
        for (int r = 0; r < vocab; r++) {
            if (r < keep) {
                kept += probs[order[r]];
            } else {
                probs[order[r]] = 0f;
            }
        }
        scale(probs, kept);
        return probs;
    }

    private static void scale(float[] probs, double sum) {
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < probs.length; i++) probs[i] *= inv;
    }
}
