package dev.quantspec.tokenizer;

import java.util.Arrays;

/**
 * The reversible byte-to-character table of byte-level BPE (GPT-2, Llama 3): every byte value gets a
 * printable character so that vocabulary entries are readable strings without spaces or control
 * characters. Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space,
 * DEL, NBSP, soft hyphen) are moved, in byte order, to U+0100 and up. That is why a space shows as
 * {@code Ġ} (U+0120) and a newline as {@code Ċ} (U+010A) in vocab files.
 */
final class ByteLevelAlphabet {
    /** [256] byte value -> the character that stands for it in vocabulary strings. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** [0x144] character -> byte value, or -1 for characters that stand for no byte. */
    private static final short[] CHAR_TO_BYTE = new short[0x144];

    static {
        Arrays.fill(CHAR_TO_BYTE, (short) -1);
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (0x100 + shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = (short) b;
        }
    }

    private ByteLevelAlphabet() {}

    static char charOf(int byteValue) {
        return BYTE_TO_CHAR[byteValue & 0xFF];
    }

    /** The byte that {@code c} stands for, or -1 if it is not a byte-level character. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** Maps raw bytes to their vocabulary spelling, e.g. {@code " the"} -> {@code "Ġthe"}. */
    static String encode(byte[] bytes, int from, int to) {
        char[] chars = new char[to - from];
        for (int i = from; i < to; i++) {
            chars[i - from] = charOf(bytes[i]);
        }
        return new String(chars);
    }

    /**
     * The bytes a token spells. Like the Hugging Face ByteLevel decoder, a token containing any
     * character outside the alphabet (typically an added token such as {@code "<|im_end|>"} with a
     * space or non-Latin text in it) contributes its own UTF-8 bytes instead.
     */
    static byte[] decode(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) {
                return token.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }
            out[i] = (byte) b;
        }
        return out;
    }
}
