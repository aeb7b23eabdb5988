package dev.quantspec.cli;

import dev.quantspec.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code quantspec tokenize}: text to token ids with the model's tokenizer.json (no weights are loaded). */
@Command(name = "tokenize", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Encodes text with the model's tokenizer, adding special tokens (BOS) as its post-processor says.",
                "With --input FILE.jsonl (or - for stdin) each line {\"id\", \"text\"} gives one line {\"id\", \"ids\"}."})
final class TokenizeCommand implements Callable<Integer> {
    private static final Set<String> FIELDS = new LinkedHashSet<>(List.of("id", "text"));

    @ParentCommand
    QuantSpecCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Option(names = "--text", paramLabel = "TEXT", required = true, description = "one text; prints its ids separated by spaces")
        String text;

        @Option(names = "--input", paramLabel = "FILE.jsonl", required = true, description = "texts, one JSON object per line (- = stdin)")
        String input;
    }

    @Option(names = "--json", description = "print JSON lines (implied by --input)")
    boolean json;

    @Override
    public Integer call() {
        Tokenizer tokenizer = Tokenizer.load(model.resolve().resolve("tokenizer.json"));
        PrintWriter out = spec.commandLine().getOut();
        if (source.input == null) {
            int[] ids = tokenizer.encode(source.text);
            if (json) {
                JsonLines.write(out, line(null, ids));
            } else {
                out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
            }
            return 0;
        }
        // Checked up front, like generate: no partial output for a file with a bad line.
        List<JsonLines.Line> lines = JsonLines.read(source.input, root.in());
        for (JsonLines.Line l : lines) {
            l.requireOnlyFields(FIELDS);
            l.string("text");
        }
        for (JsonLines.Line l : lines) {
            JsonLines.write(out, line(l.id(), tokenizer.encode(l.string("text"))));
        }
        return 0;
    }

    private static Map<String, Object> line(Object id, int[] ids) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("ids", ids);
        return m;
    }
}
