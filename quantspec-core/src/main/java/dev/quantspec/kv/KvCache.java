package dev.quantspec.kv;

/**
 * The key/value cache of one sequence, and the attention that reads it.
 *
 * <p>Attention lives behind this contract because how keys and values are read is what differs
 * between formats: a full-precision cache reads floats, the hierarchical cache reads nibble planes
 * with per-group scales plus a full-precision buffer.
 *
 * <p>Protocol, driven by the decoder: {@link #reserve} positions, let the forward pass
 * {@link #write} and {@link #attend} them, then {@link #accept} the prefix to keep. Positions past the
 * accepted length are scratch that the next pass overwrites (rollback is moving the end).
 */
public interface KvCache {
    /** Largest number of positions this cache can hold. */
    int capacity();

    /** Positions accepted so far; every position below it holds final keys and values. */
    int length();

    /** Makes positions [length(), end) writable; fails clearly if {@code end > capacity()}. */
    void reserve(int end);

    /**
     * Stores the keys and values of position {@code pos} for one layer: {@code k} and {@code v} are
     * {@code [kvHeads][headDim]} starting at their offsets.
     */
    void write(int layer, int pos, float[] k, int kOff, float[] v, int vOff);

    /**
     * Causal attention of one query head at position {@code pos} over positions [0, pos]:
     * {@code out[outOff .. +headDim) = sum_t softmax(q·k_t / sqrt(headDim)) v_t}, reading keys and
     * values through {@code view}. {@code scores} is caller-owned scratch of at least pos+1 floats.
     */
    void attend(int layer, int head, int pos, float[] q, int qOff, float[] out, int outOff,
                float[] scores, KvView view);

    /**
     * Keeps positions [0, length) and discards the rest. The hierarchical cache also applies its
     * buffer policy here (the prefill split on the first call, the decode-time flush after).
     */
    void accept(int length);

    /** Bytes held per position of context in steady state, for memory reports. */
    double bytesPerToken();

    /** Floats of caller-owned scratch that {@link #attend} needs (at least the capacity). */
    default int scratchSize() {
        return capacity();
    }

    /**
     * Positions that can be appended before the way the cache represents earlier tokens changes
     * (a flush). A verify pass longer than this would see a different cache than step-by-step
     * decoding; QuantSpec caps its rounds by it to stay exactly lossless.
     */
    default int positionsBeforeViewChange() {
        return Integer.MAX_VALUE;
    }
}
