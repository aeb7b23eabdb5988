package dev.quantspec.tokenizer;

/**
 * UTF-8 decoding that replaces each maximal ill-formed subsequence with one U+FFFD, the policy
 * of the Unicode standard (chapter 3, "U+FFFD substitution of maximal subparts") and of Rust's
 * {@code String::from_utf8_lossy}, which Hugging Face decoding uses. It is written out here rather
 * than left to {@link java.nio.charset.CharsetDecoder} so that the streaming decoder can stop
 * exactly before an incomplete trailing character and the batch decoder makes the same choices.
 */
final class LossyUtf8 {
    private static final char REPLACEMENT = '\uFFFD';

    private LossyUtf8() {}

    /** Decodes all of {@code bytes[0, length)}; an incomplete character at the end becomes U+FFFD. */
    static String decode(byte[] bytes, int length) {
        StringBuilder out = new StringBuilder(length);
        decode(bytes, length, true, out);
        return out.toString();
    }

    /**
     * Appends the decoding of {@code bytes[0, length)} to {@code out} and returns how many bytes were
     * consumed. With {@code endOfInput == false} it stops before a trailing sequence that is a valid
     * start of a character but incomplete, because later bytes may still complete it; everything
     * before that point is decoded exactly as a decode of the whole stream would decode it.
     */
    static int decode(byte[] bytes, int length, boolean endOfInput, StringBuilder out) {
        int i = 0;
        while (i < length) {
            int lead = bytes[i] & 0xFF;
            if (lead < 0x80) {
                out.append((char) lead);
                i++;
                continue;
            }
            int need;      // continuation bytes after the lead byte
            int secondLo;  // the second byte's allowed range, narrower than 80..BF for some leads
            int secondHi;
            if (lead >= 0xC2 && lead <= 0xDF) {
                need = 1; secondLo = 0x80; secondHi = 0xBF;
            } else if (lead == 0xE0) {
                need = 2; secondLo = 0xA0; secondHi = 0xBF;   // no overlong forms
            } else if (lead == 0xED) {
                need = 2; secondLo = 0x80; secondHi = 0x9F;   // no surrogates
            } else if (lead >= 0xE1 && lead <= 0xEF) {
                need = 2; secondLo = 0x80; secondHi = 0xBF;
            } else if (lead == 0xF0) {
                need = 3; secondLo = 0x90; secondHi = 0xBF;   // no overlong forms
            } else if (lead >= 0xF1 && lead <= 0xF3) {
                need = 3; secondLo = 0x80; secondHi = 0xBF;
            } else if (lead == 0xF4) {
                need = 3; secondLo = 0x80; secondHi = 0x8F;   // nothing above U+10FFFF
            } else {
                out.append(REPLACEMENT);  // a stray continuation byte or a byte that never occurs
                i++;
                continue;
            }
            int codePoint = lead & (0x3F >> need);
            int j = 1;
            boolean broken = false;
            for (; j <= need; j++) {
                if (i + j >= length) {
                    break;
                }
                int b = bytes[i + j] & 0xFF;
                int lo = j == 1 ? secondLo : 0x80;
                int hi = j == 1 ? secondHi : 0xBF;
                if (b < lo || b > hi) {
                    broken = true;
                    break;
                }
                codePoint = (codePoint << 6) | (b & 0x3F);
            }
            if (broken) {
                out.append(REPLACEMENT);  // the valid prefix is one maximal subpart; the bad byte starts afresh
                i += j;
            } else if (j <= need) {
                if (!endOfInput) {
                    return i;             // may still be completed by the next token's bytes
                }
                out.append(REPLACEMENT);
                i = length;
            } else {
                out.appendCodePoint(codePoint);
                i += need + 1;
            }
        }
        return i;
    }
}
