package dev.quantspec.generate;

import java.util.Arrays;

/**
 * Ranks the likeliest ids of a probability vector: descending probability, lower id first among
 * equals (the order top-k and top-p cut in), but only as far as a cut needs. Sorting the whole
 * vocabulary for every distribution cost 4 ms at 8K ids and 36 ms at 128K (a sampled QuantSpec
 * round builds γ + γ + 1 of them); a histogram of the probabilities' float bits finds which ids can
 * be in the kept prefix in one pass, and only those are sorted.
 *
 * <p>Not thread-safe: scratch arrays are reused across calls.
 */
final class TopTokens {
    // Buckets of the float bits' top 12 bits (sign, exponent, 3 mantissa bits): for probabilities >= 0
    // the bucket order is the value order, so whole buckets above a bucket hold only likelier ids.
    private static final int BUCKET_SHIFT = 20;
    private static final int BUCKETS = 1 << (32 - BUCKET_SHIFT - 1);
    // The bucket pass sums masses in another order than the ranked prefix does; asking it for this much
    // more mass keeps rounding from stopping it one bucket short (the ranked check below catches the rest).
    private static final double MASS_SLACK = 1e-9;

    private final int vocab;
    private final int[] bucketCount = new int[BUCKETS];
    private final double[] bucketMass = new double[BUCKETS];
    private final long[] keys;  // [vocab]: (descending probability, ascending id) as ascending longs
    private int ranked;

    TopTokens(int vocab) {
        this.vocab = vocab;
        this.keys = new long[vocab];
    }

    /**
     * Ranks ids of {@code probs[0..vocab)} until at least {@code count} are ranked or the ranked ids'
     * mass, summed in rank order, reaches {@code mass} (or every id is ranked).
     *
     * @return how many ids are ranked; {@link #id} reads them in rank order
     */
    int rank(float[] probs, int count, double mass) {
        Arrays.fill(bucketCount, 0);
        Arrays.fill(bucketMass, 0.0);
        for (int i = 0; i < vocab; i++) {
            int b = bits(probs[i]) >>> BUCKET_SHIFT;
            bucketCount[b]++;
            bucketMass[b] += probs[i];
        }
        int lowest = 0;
        int seen = 0;
        double seenMass = 0;
        for (int b = BUCKETS - 1; b >= 0; b--) {
            seen += bucketCount[b];
            seenMass += bucketMass[b];
            if (seen >= count || seenMass >= mass + MASS_SLACK) {
                lowest = b;
                break;
            }
        }
        ranked = gather(probs, lowest);
        if (ranked < vocab && !reaches(probs, count, mass)) {
            ranked = gather(probs, 0);  // rounding left the prefix short: rank everything
        }
        return ranked;
    }

    /** The id of rank {@code r} (0 = likeliest), {@code r <} the last {@link #rank} result. */
    int id(int r) {
        return (int) keys[r];
    }

    /** Sets every probability outside the first {@code keep} ranked ids to 0. */
    void zeroAllBut(float[] probs, int keep) {
        long last = keys[keep - 1];
        for (int i = 0; i < vocab; i++) {
            if (key(probs[i], i) > last) {
                probs[i] = 0f;
            }
        }
    }

    private int gather(float[] probs, int lowestBucket) {
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (bits(probs[i]) >>> BUCKET_SHIFT >= lowestBucket) {
                keys[n++] = key(probs[i], i);
            }
        }
        Arrays.sort(keys, 0, n);
        return n;
    }

    private boolean reaches(float[] probs, int count, double mass) {
        if (ranked >= count) {
            return true;
        }
        double sum = 0;
        for (int r = 0; r < ranked; r++) {
            sum += probs[id(r)];
        }
        return sum >= mass;
    }

    // Float.compare's order for probabilities (no negative values): the canonical bits, NaN above +inf
    private static int bits(float p) {
        return Float.floatToIntBits(p);
    }

    private static long key(float p, int id) {
        return ((long) (Integer.MAX_VALUE - bits(p)) << 32) | id;
    }
}
