package dev.quantspec.tokenizer;

/**
 * The BPE merge rules as a map from an adjacent pair of token ids to the rule's rank (its line
 * number in {@code merges}; lower merges first) and the id of the merged token. Open addressing on
 * primitive longs: this lookup runs once per adjacent pair per merge step, so it must not box.
 */
final class MergeTable {
    private static final long EMPTY = -1L;  // never a key: both halves of a key are ids >= 0

    /** [capacity] (leftId << 32 | rightId), or EMPTY. */
    private final long[] keys;
    /** [capacity] (rank << 32 | mergedId) for the key in the same slot. */
    private final long[] values;
    private final int mask;

    MergeTable(int expectedRules) {
        int capacity = Integer.highestOneBit(Math.max(16, expectedRules * 2 + 1)) << 1;
        keys = new long[capacity];
        values = new long[capacity];
        mask = capacity - 1;
        java.util.Arrays.fill(keys, EMPTY);
    }

    /**
     * Adds a rule; a later rule for the same pair replaces an earlier one, because Hugging Face
     * collects the merge list into a hash map in file order and so keeps the last duplicate.
     */
    void put(int left, int right, int rank, int mergedId) {
        long key = key(left, right);
        int slot = slot(key);
        while (keys[slot] != EMPTY && keys[slot] != key) {
            slot = (slot + 1) & mask;
        }
        keys[slot] = key;
        values[slot] = ((long) rank << 32) | (mergedId & 0xFFFFFFFFL);
    }

    /** The packed (rank << 32 | mergedId) for the pair, or -1 if the pair never merges. */
    long find(int left, int right) {
        long key = key(left, right);
        int slot = slot(key);
        while (true) {
            long k = keys[slot];
            if (k == key) {
                return values[slot];
            }
            if (k == EMPTY) {
                return -1L;
            }
            slot = (slot + 1) & mask;
        }
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;  // Fibonacci hashing spreads the small id values
        return (int) (h >>> 40) & mask;
    }
}
