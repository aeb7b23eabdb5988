package dev.quantspec.cli;

import dev.quantspec.ContextLengthExceededException;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.tokenizer.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code quantspec chat}: a multi-turn conversation through the model's chat template. Each line
 * of stdin is a user turn; the reply streams to stdout and ends at an end-of-sequence id (for
 * ChatML models {@code <|im_end|>}, listed in generation_config.json).
 */
@Command(name = "chat", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Interactive chat with the model's chat template; the conversation is kept between turns.",
                "Type a message and press Enter. /reset clears the history; /exit or end of input quits."})
final class ChatCommand implements Callable<Integer> {
    static final String EXIT = "/exit";
    static final String RESET = "/reset";

    @ParentCommand
    QuantSpecCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--system", paramLabel = "TEXT", description = "a system message opening the conversation")
    String system;

    @Option(names = "--stats", description = "print a stats line to stderr after each reply")
    boolean stats;

    @Mixin
    GenerationFlags generation;

    @Mixin
    EngineFlags engineFlags;

    @Override
    public Integer call() {
        generation.validate();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // Prompts and notices go to stderr so that stdout carries only the replies.
        boolean interactive = System.console() != null;
        try (QuantSpecEngine engine = QuantSpecEngine.load(model.resolve(), engineFlags.toOptions());
             BufferedReader in = new BufferedReader(new InputStreamReader(root.in(), StandardCharsets.UTF_8))) {
            engine.chatTemplate(); // fail now, not after the first message, when the model has no template
            if (interactive) {
                err.println("chat with " + engine.modelDir().getFileName() + " (" + RESET + " clears the history, " + EXIT + " quits)");
            }
            List<ChatMessage> history = freshHistory();
            while (true) {
                if (interactive) {
                    err.print("> ");
                    err.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals(EXIT)) {
                    break;
                }
                String message = line.strip();
                if (message.isEmpty()) {
                    continue;
                }
                if (message.equals(RESET)) {
                    history = freshHistory();
                    err.println("(history cleared)");
                    err.flush();
                    continue;
                }
                GenerationResult reply = reply(engine, history, message, out, err);
                if (reply != null) {
                    history.add(new ChatMessage("user", message));
                    history.add(new ChatMessage("assistant", reply.text()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the chat input: " + e.getMessage(), e);
        }
        return 0;
    }

    /** The history of a new conversation: the system message, if there is one. */
    private List<ChatMessage> freshHistory() {
        List<ChatMessage> h = new ArrayList<>();
        if (system != null) {
            h.add(new ChatMessage("system", system));
        }
        return h;
    }

    /** Streams the reply to {@code message}; null (history unchanged) when the conversation no longer fits. */
    private GenerationResult reply(QuantSpecEngine engine, List<ChatMessage> history, String message,
                                   PrintWriter out, PrintWriter err) {
        List<ChatMessage> turn = new ArrayList<>(history);
        turn.add(new ChatMessage("user", message));
        int[] ids = engine.encodeChat(turn);
        int budget = Math.min(generation.maxNewTokens, engine.contextLength() - ids.length);
        if (budget < 1) {
            err.println("(the conversation has " + ids.length + " tokens and fills the context of "
                    + engine.contextLength() + ": type " + RESET + " to start over)");
            err.flush();
            return null;
        }
        GenerationResult r;
        try {
            r = engine.generate(generation.request(ids, budget), (id, text) -> {
                if (!text.isEmpty()) {
                    out.print(text);
                    out.flush();
                }
            }, () -> false);
        } catch (ContextLengthExceededException e) {
            err.println("(" + e.getMessage() + ")");
            err.flush();
            return null;
        }
        out.println();
        out.flush();
        if (stats) {
            err.println(StatsLine.of(r));
            err.flush();
        }
        return r;
    }
}
