package dev.quantspec.generate;

import java.util.Locale;

/** How tokens are produced. */
public enum DecoderKind {
    /** One target forward pass per token: the baseline. */
    AUTOREGRESSIVE,
    /** Self-speculative decoding: a 4-bit draft of the same model proposes, the target verifies. */
    QUANTSPEC;

    public static DecoderKind parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown decoder '" + s + "': use autoregressive or quantspec");
        }
    }
}
