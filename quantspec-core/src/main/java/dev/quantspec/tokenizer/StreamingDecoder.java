package dev.quantspec.tokenizer;

/**
 * Turns ids into text incrementally during generation. A token may end in the middle of a UTF-8
 * character (byte-level BPE splits emoji and CJK characters across tokens), so the bytes of an
 * incomplete trailing character are held back until the next ids complete it. Everything it emits,
 * followed by {@link #flush()}, concatenates to exactly {@code tokenizer.decode(allIds)}: bytes are
 * only released once their decoding can no longer depend on what follows.
 *
 * <p>Not thread-safe: one decoder per generation stream.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    /** Bytes received but not yet emitted: at most the start of one incomplete character. */
    private final Tokenizer.ByteBuffer pending = new Tokenizer.ByteBuffer(16);

    StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds one id and returns the text it completes (possibly "", never half a character). */
    public String append(int id) {
        byte[] bytes = tokenizer.bytesOf(id, skipSpecialTokens);
        if (bytes == null || bytes.length == 0) {
            return "";
        }
        pending.append(bytes);
        StringBuilder out = new StringBuilder(pending.size());
        int consumed = LossyUtf8.decode(pending.array(), pending.size(), false, out);
        pending.discard(consumed);
        return out.toString();
    }

    /** Ends the stream: returns what is held back, an incomplete character rendered as U+FFFD. */
    public String flush() {
        String rest = LossyUtf8.decode(pending.array(), pending.size());
        pending.discard(pending.size());
        return rest;
    }
}
