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

    /** The paper's G with a value group of min(head_dim, G) and R = G. */
    public static HierarchicalCacheConfig defaults(int headDim) {
        return new HierarchicalCacheConfig(DEFAULT_GROUP_SIZE, Math.min(headDim, DEFAULT_GROUP_SIZE), DEFAULT_GROUP_SIZE);
    }

    public static HierarchicalCacheConfig of(int groupSize, int headDim) {
        return new HierarchicalCacheConfig(groupSize, Math.min(headDim, 64), groupSize);
    }
}
