package dev.quantspec.cli;

import dev.quantspec.QuantSpecException;
import dev.quantspec.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A benchmark prompt of an exact token count made of real text: the attention and the draft's
 * acceptance behave differently on natural text than on one repeated token, so benchmarks must
 * not use synthetic ids.
 */
final class BenchPrompt {
    /** Plain English prose in the style of system documentation (written for this project). */
    static final String BUILT_IN_TEXT = """
            When a service refuses to start after an upgrade, the first place to look is the system \
            journal, not the configuration file you edited last. The journal records the exact command \
            the service manager ran, the environment it passed, and the last lines the program wrote \
            before it exited. Read those lines from the bottom up: the final message is usually a \
            consequence, and the cause sits a few lines earlier, often a missing directory, a port that \
            another process already holds, or a permission that changed when the package was rebuilt. \
            Once you have a hypothesis, test it by running the same command by hand as the same user, \
            with the same working directory. If it succeeds there, compare the two environments one \
            variable at a time. Keep notes as you go; the next administrator who meets the same failure \
            will thank you, and that administrator is frequently you, six months later, with no memory \
            of how the problem was solved the first time.""";

    private BenchPrompt() {}

    /**
     * The text of {@code file}, or the built-in paragraph when {@code file} is null. A {@code .jsonl}
     * file is read as documents with a "text" field (like reference/heldout-docs.jsonl), and its
     * longest document is used, so that a long prompt repeats as little as possible.
     */
    static String text(Path file) {
        if (file == null) {
            return BUILT_IN_TEXT;
        }
        if (file.getFileName().toString().endsWith(".jsonl")) {
            String longest = "";
            for (JsonLines.Line line : JsonLines.read(file.toString(), InputStream.nullInputStream())) {
                String t = line.string("text");
                longest = t.length() > longest.length() ? t : longest;
            }
            if (longest.isBlank()) {
                throw new QuantSpecException("the benchmark text file " + file + " has no document with text");
            }
            return longest;
        }
        try {
            String text = Files.readString(file);
            if (text.isBlank()) {
                throw new QuantSpecException("the benchmark text file " + file + " is empty");
            }
            return text;
        } catch (IOException e) {
            throw new QuantSpecException("cannot read the benchmark text file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The first {@code tokens} ids of {@code text} (special tokens added as the tokenizer's
     * post-processor says), repeating the text, separated by blank lines, until it is long enough.
     */
    static int[] ofLength(Tokenizer tokenizer, String text, int tokens) {
        StringBuilder repeated = new StringBuilder(text);
        int[] ids = tokenizer.encode(repeated.toString());
        if (ids.length == 0 || tokenizer.encode(text, false).length == 0) {
            throw new QuantSpecException("the benchmark text encodes to no tokens");
        }
        while (ids.length < tokens) {
            // Doubling keeps the number of (whole-text) encodings logarithmic in the length.
            String current = repeated.toString();
            repeated.append("\n\n").append(current);
            ids = tokenizer.encode(repeated.toString());
        }
        return Arrays.copyOf(ids, tokens);
    }
}
