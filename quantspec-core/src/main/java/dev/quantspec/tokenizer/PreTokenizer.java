package dev.quantspec.tokenizer;

import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cuts text into the pieces that BPE encodes one at a time, as the Hugging Face pre-tokenizers of
 * byte-level models do: zero or more {@code Split} regexes (Llama 3 uses one), then the
 * {@code ByteLevel} step, which may prepend a space and may split with the GPT-2 regex. Merges never
 * cross a piece boundary, so these cuts decide the ids as much as the merges do.
 *
 * <p>Every regex is compiled with {@link Pattern#UNICODE_CHARACTER_CLASS}: Hugging Face runs them
 * with Oniguruma, where {@code \s} is the Unicode White_Space property (NBSP, thin space, ideographic
 * space...), whereas plain Java {@code \s} is ASCII only and would cut such text differently.
 */
final class PreTokenizer {
    /** The split regex of GPT-2, which {@code ByteLevel} uses when {@code use_regex} is true. */
    static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** One {@code Split} pre-tokenizer: matches become pieces, and so do the gaps between them. */
    record SplitRule(Pattern pattern, boolean dropMatches) {}

    private final List<SplitRule> splits;
    private final boolean addPrefixSpace;
    /** The GPT-2 split of the ByteLevel step, or null when {@code use_regex} is false. */
    private final Pattern byteLevelPattern;

    PreTokenizer(List<SplitRule> splits, boolean addPrefixSpace, boolean byteLevelUsesRegex) {
        this.splits = List.copyOf(splits);
        this.addPrefixSpace = addPrefixSpace;
        this.byteLevelPattern = byteLevelUsesRegex ? compile(GPT2_PATTERN) : null;
    }

    static Pattern compile(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    /** Passes each non-empty piece of {@code text}, in order, to {@code sink}. */
    void split(String text, Consumer<String> sink) {
        splitFrom(text, 0, sink);
    }

    private void splitFrom(String text, int step, Consumer<String> sink) {
        if (text.isEmpty()) {
            return;
        }
        if (step < splits.size()) {
            SplitRule rule = splits.get(step);
            forEachIsolated(text, rule.pattern(), rule.dropMatches(), piece -> splitFrom(piece, step + 1, sink));
            return;
        }
        // The ByteLevel step; its byte mapping happens inside the BPE model.
        String piece = addPrefixSpace && text.charAt(0) != ' ' ? " " + text : text;
        if (byteLevelPattern == null) {
            sink.accept(piece);
        } else {
            forEachIsolated(piece, byteLevelPattern, false, sink);
        }
    }

    /** Hugging Face's "Isolated" split behaviour (or "Removed" when {@code dropMatches}). */
    private static void forEachIsolated(String text, Pattern pattern, boolean dropMatches, Consumer<String> sink) {
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() == m.end()) {
                continue;  // an empty match cuts nothing
            }
            if (m.start() > last) {
                sink.accept(text.substring(last, m.start()));
            }
            if (!dropMatches) {
                sink.accept(text.substring(m.start(), m.end()));
            }
            last = m.end();
        }
        if (last < text.length()) {
            sink.accept(text.substring(last));
        }
    }
}
