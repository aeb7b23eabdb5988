package dev.quantspec.tokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text the way Hugging Face's added vocabulary does: non-overlapping matches,
 * scanning left to right, the longest token winning at a position (leftmost-longest), then the
 * token's {@code single_word}, {@code lstrip} and {@code rstrip} flags applied to the match. The text
 * between matches goes on to the pre-tokenizer.
 *
 * <p>A bitmap of the tokens' first characters makes the scan cost one bit test per character of
 * ordinary text, which keeps 100k-character documents cheap even with hundreds of added tokens.
 */
final class AddedTokenMatcher {
    /** Receives the matcher's output in text order. */
    interface Sink {
        /** Ordinary text {@code text[start, end)}, never empty. */
        void text(int start, int end);

        void token(AddedToken token);
    }

    /** First UTF-16 unit of each token's content: a set bit means "a token may start here". */
    private final BitSet firstChars = new BitSet(65536);
    /** First UTF-16 unit -> the tokens starting with it, longest first. */
    private final Map<Character, List<AddedToken>> byFirstChar = new HashMap<>();

    AddedTokenMatcher(List<AddedToken> tokens) {
        for (AddedToken token : tokens) {
            if (token.content().isEmpty()) {
                continue;  // an empty token would match everywhere; Hugging Face ignores it too
            }
            char first = token.content().charAt(0);
            firstChars.set(first);
            byFirstChar.computeIfAbsent(first, c -> new ArrayList<>()).add(token);
        }
        for (List<AddedToken> bucket : byFirstChar.values()) {
            bucket.sort(Comparator.comparingInt((AddedToken t) -> t.content().length()).reversed());
        }
    }

    boolean isEmpty() {
        return byFirstChar.isEmpty();
    }

    void split(String text, Sink sink) {
        int n = text.length();
        int emittedUpTo = 0;  // everything before this index has been passed to the sink
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            AddedToken match = firstChars.get(c) ? longestAt(text, i, c) : null;
            if (match == null) {
                i++;
                continue;
            }
            int start = i;
            int stop = i + match.content().length();
            i = stop;
            if (match.singleWord() && !(isWordBoundaryBefore(text, start) && isWordBoundaryAfter(text, stop))) {
                continue;
            }
            if (match.lstrip()) {
                int trimmed = start;
                while (trimmed > 0 && isWhiteSpace(text.charAt(trimmed - 1))) {
                    trimmed--;
                }
                start = Math.max(trimmed, emittedUpTo);
            }
            if (match.rstrip()) {
                while (stop < n && isWhiteSpace(text.charAt(stop))) {
                    stop++;
                }
                i = stop;
            }
            if (start > emittedUpTo) {
                sink.text(emittedUpTo, start);
            }
            sink.token(match);
            emittedUpTo = stop;
        }
        if (emittedUpTo < n) {
            sink.text(emittedUpTo, n);
        }
    }

    private AddedToken longestAt(String text, int i, char first) {
        for (AddedToken token : byFirstChar.get(first)) {
            if (text.startsWith(token.content(), i)) {
                return token;
            }
        }
        return null;
    }

    private static boolean isWordBoundaryBefore(String text, int index) {
        return index == 0 || !isWordChar(text.codePointBefore(index));
    }

    private static boolean isWordBoundaryAfter(String text, int index) {
        return index == text.length() || !isWordChar(text.codePointAt(index));
    }

    /**
     * Rust's {@code char::is_alphanumeric} plus underscore: the Alphabetic property or any number
     * category (so Roman numerals and superscripts count, unlike {@link Character#isLetterOrDigit}).
     */
    private static boolean isWordChar(int codePoint) {
        int type = Character.getType(codePoint);
        return Character.isAlphabetic(codePoint) || codePoint == '_' || type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER;
    }

    /**
     * The Unicode White_Space property, which Rust's {@code char::is_whitespace} (used by
     * lstrip/rstrip) follows; Java's {@link Character#isWhitespace} leaves out NBSP and friends.
     */
    static boolean isWhiteSpace(char c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
                || c == 0x205F || c == 0x3000;
    }
}
