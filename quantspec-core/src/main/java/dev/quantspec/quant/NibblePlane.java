package dev.quantspec.quant;

import java.util.Objects;

/**
 * A fixed-size array of 4-bit codes (0..15), packed two to a byte.
 *
 * <p>Layout, shared with the CUDA kernels that read the same bytes: code {@code i} lives in byte
 * {@code i / 2}; an EVEN {@code i} occupies the LOW nibble (bits 0..3), an ODD {@code i} the HIGH
 * nibble (bits 4..7). Read as a little-endian int, the 8 codes of 4 consecutive bytes therefore
 * appear in order from the least significant nibble up, which is what the SIMD unpacking relies on.
 *
 * <p>Not thread-safe for concurrent {@link #set} calls on the two nibbles of one byte (a
 * read-modify-write); writers that own disjoint byte ranges may run in parallel.
 */
public final class NibblePlane {
    /** The largest capacity: a Java byte array holds at most {@code Integer.MAX_VALUE - 8} bytes. */
    public static final long MAX_NIBBLES = 2L * (Integer.MAX_VALUE - 8);

    private final long nibbles;
    private final byte[] bytes; // [ceil(nibbles / 2)]: two codes per byte, even index in the low nibble

    /** A plane of {@code nibbles} codes, all zero. */
    public NibblePlane(long nibbles) {
        if (nibbles < 0 || nibbles > MAX_NIBBLES) {
            throw new IllegalArgumentException("a nibble plane holds 0.." + MAX_NIBBLES + " codes, asked for " + nibbles);
        }
        this.nibbles = nibbles;
        this.bytes = new byte[(int) ((nibbles + 1) / 2)];
    }

    /** Number of codes this plane holds. */
    public long capacity() {
        return nibbles;
    }

    public int get(long i) {
        Objects.checkIndex(i, nibbles);
        int b = bytes[(int) (i >>> 1)];
        return (i & 1) == 0 ? b & 0xF : (b >>> 4) & 0xF;
    }

    /** Stores {@code code} (0..15) at position {@code i}, leaving the other nibble of the byte untouched. */
    public void set(long i, int code) {
        Objects.checkIndex(i, nibbles);
        if ((code & ~0xF) != 0) {
            throw new IllegalArgumentException("a nibble code is 0..15, got " + code + " for position " + i);
        }
        int at = (int) (i >>> 1);
        int b = bytes[at];
        bytes[at] = (byte) ((i & 1) == 0 ? (b & 0xF0) | code : (b & 0x0F) | (code << 4));
    }

    /**
     * The backing bytes, for hot loops and device uploads (layout in the class comment). Writes
     * through this array change the plane.
     */
    public byte[] bytes() {
        return bytes;
    }

    /** Bytes of storage: {@code ceil(capacity / 2)}. */
    public long byteSize() {
        return bytes.length;
    }
}
