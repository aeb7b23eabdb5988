package dev.quantspec.cli;

import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.tokenizer.ChatMessage;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code quantspec generate}: one prompt streamed for a person, or a JSONL batch for a program. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continues a prompt.",
                "With --prompt the text streams to stdout as it is generated and a stats line goes to stderr.",
                "With --input FILE.jsonl (or - for stdin) each line {\"id\", \"prompt\" | \"prompt_ids\", "
                        + "\"max_new_tokens\"?} gives one output line {\"id\", \"prompt_tokens\", \"ids\", \"text\", "
                        + "\"finish_reason\", \"stats\"}; a line without \"id\" gets its line number."})
final class GenerateCommand implements Callable<Integer> {
    @ParentCommand
    QuantSpecCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    static final class Source {
        @Option(names = "--prompt", paramLabel = "TEXT", required = true, description = "the text to continue")
        String prompt;

        @Option(names = "--input", paramLabel = "FILE.jsonl", required = true, description = "a batch of prompts, one JSON object per line (- = stdin)")
        String input;
    }

    @Option(names = "--json", description = "print JSON lines (implied by --input)")
    boolean json;

    @Option(names = "--chat", description = "wrap each prompt as a user turn with the model's chat template")
    boolean chat;

    @Mixin
    GenerationFlags generation;

    @Mixin
    EngineFlags engineFlags;

    @Override
    public Integer call() {
        generation.validate();
        var options = engineFlags.toOptions();
        PrintWriter out = spec.commandLine().getOut();
        try (QuantSpecEngine engine = QuantSpecEngine.load(model.resolve(), options)) {
            Function<String, int[]> encode = chat
                    ? text -> engine.encodeChat(List.of(new ChatMessage("user", text)))
                    : text -> engine.tokenizer().encode(text);
            if (source.input != null) {
                runBatch(engine, encode, out);
            } else if (json) {
                int[] ids = encode.apply(source.prompt);
                GenerationResult r = engine.generate(generation.request(ids, generation.maxNewTokens));
                JsonLines.write(out, outputLine(null, ids.length, r));
            } else {
                streamOne(engine, encode.apply(source.prompt), out);
            }
        }
        return 0;
    }

    private void streamOne(QuantSpecEngine engine, int[] ids, PrintWriter out) {
        GenerationResult r = engine.generate(generation.request(ids, generation.maxNewTokens), (id, text) -> {
            if (!text.isEmpty()) {
                out.print(text);
                out.flush();
            }
        }, () -> false);
        out.println();
        out.flush();
        spec.commandLine().getErr().println(StatsLine.of(r));
    }

    private void runBatch(QuantSpecEngine engine, Function<String, int[]> encode, PrintWriter out) {
        // Check every line first: a bad line fails the run before any compute is spent.
        List<PromptLine> batch = new ArrayList<>();
        for (JsonLines.Line line : JsonLines.read(source.input, root.in())) {
            batch.add(PromptLine.parse(line, engine, encode, generation.maxNewTokens));
        }
        for (PromptLine p : batch) {
            GenerationResult r;
            try {
                r = engine.generate(generation.request(p.promptIds(), p.maxNewTokens()));
            } catch (RuntimeException e) {
                throw p.line().error(e.getMessage());
            }
            JsonLines.write(out, outputLine(p.line().id(), p.promptIds().length, r));
        }
    }

    static Map<String, Object> outputLine(Object id, int promptTokens, GenerationResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("prompt_tokens", promptTokens);
        m.put("ids", r.ids());
        m.put("text", r.text());
        m.put("finish_reason", r.finishReason().jsonName());
        m.put("stats", r.stats().toMap());
        return m;
    }
}
