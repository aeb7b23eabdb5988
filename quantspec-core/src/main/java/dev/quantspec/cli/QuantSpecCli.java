package dev.quantspec.cli;

import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code quantspec} command: generate, tokenize, chat, bench and eval on a Hugging Face Llama
 * folder. {@code bin/quantspec} runs it from the shaded jar.
 *
 * <p>Exit codes: 0 success, 1 a runtime error (bad model files, a bad input line, a prompt that
 * does not fit), 2 a usage error (unknown option, invalid option value).
 */
@Command(name = "quantspec", mixinStandardHelpOptions = true, version = "quantspec 0.1.0",
        description = "LLM inference for Llama-family Hugging Face models, with QuantSpec self-speculative decoding.",
        subcommands = {GenerateCommand.class, TokenizeCommand.class, ChatCommand.class, BenchCommand.class,
                EvalCommand.class, CommandLine.HelpCommand.class})
public final class QuantSpecCli implements Runnable {
    /** Set by bin/quantspec to the repository (or installation) root; --model defaults below it. */
    public static final String HOME_PROPERTY = "quantspec.home";
    /** Print stack traces for runtime errors (for bug reports). */
    public static final String DEBUG_PROPERTY = "quantspec.debug";

    private final InputStream in;
    private final String[] args;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public QuantSpecCli(InputStream in, String[] args) {
        this.in = in;
        this.args = args.clone();
    }

    /** What the interactive commands read (stdin for the real tool, a string in tests). */
    InputStream in() {
        return in;
    }

    /** The command line as typed, for benchmark records. */
    String[] args() {
        return args.clone();
    }

    @Override
    public void run() {
        // No subcommand: show what there is rather than doing nothing silently.
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required: generate, tokenize, chat, bench or eval");
    }

    /**
     * A command line wired to the given streams: what main runs, and what tests run in-process.
     * Runtime errors print one "error: ..." line (with the stack trace only under
     * -Dquantspec.debug=true) and exit 1.
     */
    public static CommandLine newCommandLine(InputStream in, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new QuantSpecCli(in, args));
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // A usage error: the message and where to look, not the whole option list (it buries the message).
        cl.setParameterExceptionHandler((ex, arguments) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter e = c.getErr();
            e.println("error: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, e);
            e.println("Try '" + c.getCommandSpec().qualifiedName() + " --help' for the options.");
            e.flush();
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter e = commandLine.getErr();
            commandLine.getOut().flush();
            e.println("error: " + describe(ex));
            if (Boolean.getBoolean(DEBUG_PROPERTY)) {
                ex.printStackTrace(e);
            } else if (!(ex instanceof dev.quantspec.QuantSpecException) && !(ex instanceof IllegalArgumentException)) {
                e.println("(an unexpected error: run with JAVA_OPTS=-D" + DEBUG_PROPERTY + "=true for the stack trace)");
            }
            e.flush();
            return 1;
        });
        return cl;
    }

    /** Runs one command line and returns its exit code. */
    public static int execute(InputStream in, PrintWriter out, PrintWriter err, String... args) {
        int code = newCommandLine(in, out, err, args).execute(args);
        out.flush();
        err.flush();
        return code;
    }

    public static void main(String[] args) {
        // Always UTF-8, whatever the platform default: model text is UTF-8 and JSON output must be too.
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8));
        System.exit(execute(System.in, out, err, args));
    }

    private static String describe(Throwable ex) {
        String msg = ex.getMessage();
        if (msg == null || msg.isBlank()) {
            msg = ex.getClass().getSimpleName();
        }
        Throwable cause = ex.getCause();
        if (cause != null && cause.getMessage() != null && !msg.contains(cause.getMessage())) {
            msg += ": " + cause.getMessage();
        }
        return msg;
    }
}
