package dev.quantspec.kv;

/**
 * Parameters of the hierarchical quantized cache (QUANTSPEC.md).
 *
 * @param groupSize      G: tokens per key group, and the size of each half (CF1, CF2) of the
 *                       full-precision buffer; 128 in the paper
 * @param valueGroupSize channels per value group within one token; head_dim for small heads (64)
 * @param residualLength R: tokens the prefill keeps in full precision besides {@code L mod G}; a
 *                       positive multiple of G so the quantized part stays whole key groups (G in
 *                       the authors' code)
 */
public record HierarchicalCacheConfig(int groupSize, int valueGroupSize, int residualLength) {
    public static final int DEFAULT_GROUP_SIZE = 128;

    public HierarchicalCacheConfig {
        if (groupSize < 1) {
            throw new IllegalArgumentException("group size must be >= 1, got " + groupSize);
        }
        if (valueGroupSize < 1) {
            throw new IllegalArgumentException("value group size must be >= 1, got " + valueGroupSize);
        }
        if (residualLength < groupSize || residualLength % groupSize != 0) {
            throw new IllegalArgumentException("residual length must be a positive multiple of the group size "
                    + groupSize + ", got " + residualLength);
        }
    }

    /**
     * Tokens the prefill of {@code promptLength} tokens leaves quantized (the first accept's split):
     * L - R - (L mod G) when L > 2G, none otherwise; the rest stays in the full-precision buffer.
     */
    public int prefillQuantized(int promptLength) {
        return promptLength > 2 * groupSize ? promptLength - residualLength - promptLength % groupSize : 0;
    }

    /** Key groups to flush (CF1, oldest first) with {@code buffered} accepted tokens in the buffer: until fewer than 2G remain. */
    public int groupsToFlush(int buffered) {
        return buffered >= 2 * groupSize ? buffered / groupSize - 1 : 0;
    }

    /** Positions a round may append to {@code buffered} tokens before the next flush. */
    public int positionsBeforeFlush(int buffered) {
        return 2 * groupSize - buffered;
    }

    /** Buffer rows after the prefill: 2G accepted tokens (or R + G - 1 after the split) plus one round. */
    public int steadyBufferCapacity(int roundPositions) {
        return Math.max(2 * groupSize, residualLength + groupSize) + roundPositions;
    }

    /** The paper's G with a value group of min(head_dim, G) and R = G. */
    public static HierarchicalCacheConfig defaults(int headDim) {
        return new HierarchicalCacheConfig(DEFAULT_GROUP_SIZE, Math.min(headDim, DEFAULT_GROUP_SIZE), DEFAULT_GROUP_SIZE);
    }

    public static HierarchicalCacheConfig of(int groupSize, int headDim) {
        return new HierarchicalCacheConfig(groupSize, Math.min(headDim, 64), groupSize);
    }
}
