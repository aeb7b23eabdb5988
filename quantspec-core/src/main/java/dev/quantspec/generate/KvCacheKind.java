package dev.quantspec.generate;

import java.util.Locale;

/** Which KV cache the target reads. */
public enum KvCacheKind {
    /** fp32 keys and values: the baseline of the paper's comparisons. */
    FULL,
    /** QuantSpec's INT8 (upper+lower nibble) cache with a full-precision buffer. */
    HIERARCHICAL;

    public static KvCacheKind parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown KV cache '" + s + "': use full or hierarchical");
        }
    }
}
