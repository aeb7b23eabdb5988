package dev.quantspec.cli;

import dev.quantspec.QuantSpecEngine;
import dev.quantspec.QuantSpecException;
import dev.quantspec.generate.DecodeStats;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.KvCacheKind;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code quantspec bench}: prefill and decode throughput on a prompt of real text, greedy with
 * ignore-eos so every run does the same work. Reports medians over the measured runs (robust to
 * one run disturbed by other processes) after warm-up runs that let the JIT compile the kernels.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures prefill and decode tokens/s and prints a Markdown table.",
                "With --record the table, the machine and the command line are appended to BENCHMARKS.md."})
final class BenchCommand implements Callable<Integer> {
    @ParentCommand
    QuantSpecCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--prompt-tokens", paramLabel = "N", defaultValue = "1000", description = "prompt length (default: ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--new-tokens", paramLabel = "N", defaultValue = "256", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int newTokens;

    @Option(names = "--decoder", paramLabel = "autoregressive|quantspec", split = ",", defaultValue = "autoregressive",
            converter = Converters.DecoderConverter.class,
            description = "decoders to measure, comma-separated or repeated (default: ${DEFAULT-VALUE})")
    List<DecoderKind> decoders;

    @Option(names = "--kv-cache", paramLabel = "full|hierarchical", defaultValue = "full", converter = Converters.KvCacheConverter.class,
            description = "the autoregressive decoder's KV cache (default: ${DEFAULT-VALUE})")
    KvCacheKind kvCache;

    @Option(names = "--gamma", paramLabel = "N", description = "QuantSpec draft tokens per round (default: 4)")
    Integer gamma;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "3", description = "measured runs per decoder (default: ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "1", description = "unmeasured runs first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--text", paramLabel = "FILE", description = "take the prompt from this text file (default: a built-in English paragraph, repeated)")
    Path textFile;

    @Option(names = "--record", description = "append the results to BENCHMARKS.md")
    boolean record;

    @Option(names = "--record-file", paramLabel = "FILE",
            description = "where --record appends (default: BENCHMARKS.md at the installation root)")
    Path recordFile;

    @Mixin
    SamplingFlags sampling;

    @Mixin
    EngineFlags engineFlags;

    @Override
    public Integer call() {
        OptionChecks.requirePositive(spec, promptTokens, "--prompt-tokens");
        OptionChecks.requirePositive(spec, newTokens, "--new-tokens");
        OptionChecks.requirePositive(spec, repeat, "--repeat");
        OptionChecks.require(spec, warmup >= 0, "--warmup must be >= 0, got " + warmup);
        if (gamma != null) {
            OptionChecks.requireGamma(spec, gamma);
        }
        sampling.validate();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        var options = engineFlags.toOptions();
        MarkdownTable table = new MarkdownTable("model", "decoder", "prompt tokens", "new tokens",
                "prefill tok/s", "decode tok/s", "acceptance", "tokens/pass");
        String modelName;
        try (QuantSpecEngine engine = QuantSpecEngine.load(model.resolve(), options)) {
            modelName = engine.modelDir().toAbsolutePath().normalize().getFileName().toString();
            int[] prompt = BenchPrompt.ofLength(engine.tokenizer(), BenchPrompt.text(textFile), promptTokens);
            for (DecoderKind decoder : decoders.stream().distinct().toList()) {
                GenerationRequest request = new GenerationRequest(prompt, newTokens, sampling.params(), List.of(), true,
                        decoder, decoder == DecoderKind.QUANTSPEC ? KvCacheKind.HIERARCHICAL : kvCache, gamma != null ? gamma : 0);
                List<DecodeStats> runs = new ArrayList<>();
                for (int i = 0; i < warmup + repeat; i++) {
                    DecodeStats s = engine.generate(request).stats();
                    err.printf("%s run %d/%d%s: prefill %s tok/s, decode %s tok/s%n", s.decoder(), i + 1, warmup + repeat,
                            i < warmup ? " (warm-up)" : "", StatsLine.number(s.prefillTokensPerSecond(), 1),
                            StatsLine.number(s.decodeTokensPerSecond(), 1));
                    err.flush();
                    if (i >= warmup) {
                        runs.add(s);
                    }
                }
                table.row(modelName, label(decoder, runs.get(0), gamma != null ? gamma : options.gamma()), promptTokens, newTokens,
                        StatsLine.number(median(runs, DecodeStats::prefillTokensPerSecond), 1),
                        StatsLine.number(median(runs, DecodeStats::decodeTokensPerSecond), 1),
                        acceptance(runs), StatsLine.number(median(runs, DecodeStats::tokensPerTargetPass), 2));
            }
            out.print(table);
            out.flush();
            if (record) {
                Path file = recordFile != null ? recordFile : defaultRecordFile();
                appendRecord(file, modelName, engine, table);
                err.println("appended to " + file);
            }
        }
        return 0;
    }

    private String label(DecoderKind decoder, DecodeStats s, int gamma) {
        String name = decoder == DecoderKind.QUANTSPEC ? s.decoder() + " (gamma " + gamma + ")" : s.decoder();
        return sampling.temperature == 0f ? name : name + ", " + sampling.describe();
    }

    /** Accepted / drafted over all measured runs, or "-" for the autoregressive decoder. */
    private static String acceptance(List<DecodeStats> runs) {
        long drafted = runs.stream().mapToLong(DecodeStats::drafted).sum();
        long accepted = runs.stream().mapToLong(DecodeStats::accepted).sum();
        return drafted == 0 ? "-" : StatsLine.number(100.0 * accepted / drafted, 1) + "%";
    }

    static double median(List<DecodeStats> runs, java.util.function.ToDoubleFunction<DecodeStats> f) {
        double[] v = runs.stream().mapToDouble(f).filter(Double::isFinite).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static Path defaultRecordFile() {
        String home = System.getProperty(QuantSpecCli.HOME_PROPERTY);
        return (home != null ? Path.of(home) : Path.of("")).resolve("BENCHMARKS.md");
    }

    private void appendRecord(Path file, String modelName, QuantSpecEngine engine, MarkdownTable table) {
        String when = ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'"));
        String section = "\n## " + when + ": bench " + modelName + "\n\n"
                + "- machine: " + MachineInfo.current().describe() + "\n"
                + engine.deviceName().map(gpu -> "- GPU: " + gpu + "\n").orElse("")
                + "- engine: " + engine.backend().name().toLowerCase() + " backend, " + engine.options().threads() + " threads; "
                + warmup + " warm-up + " + repeat + " measured runs per decoder, medians\n"
                + "- command: `" + commandLine() + "`\n\n"
                + table;
        try {
            Files.writeString(file, section, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new QuantSpecException("cannot append the benchmark record to " + file + ": " + e.getMessage(), e);
        }
    }

    /** The command as typed, quoted for a POSIX shell where needed. */
    private String commandLine() {
        String launcher = System.getProperty("quantspec.launcher", "quantspec");
        return launcher + " " + Arrays.stream(root.args()).map(BenchCommand::shellQuote).collect(Collectors.joining(" "));
    }

    static String shellQuote(String arg) {
        return arg.matches("[A-Za-z0-9_./=:,+-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }
}
