package dev.quantspec.cli;

import dev.quantspec.QuantSpecEngine;
import dev.quantspec.QuantSpecException;
import dev.quantspec.eval.Perplexity;
import dev.quantspec.generate.DecodeStats;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;
import dev.quantspec.generate.KvCacheKind;
import dev.quantspec.generate.SamplingParams;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code quantspec eval}: QuantSpec's acceptance and losslessness on held-out documents. For each
 * document, greedy QuantSpec (per γ) is compared token for token with greedy autoregressive
 * decoding on the hierarchical cache: the target QuantSpec verifies with, so greedy outputs must be
 * identical.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Acceptance rate, losslessness and speed of QuantSpec on documents (JSONL with a \"text\" field).",
                "Each prompt is the first --prompt-tokens tokens of a document (BOS included); both decoders run greedy "
                        + "with ignore-eos for --new-tokens. tok/s is decode throughput (the prefill is the same for both)."})
final class EvalCommand implements Callable<Integer> {
    @ParentCommand
    QuantSpecCli root;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--docs", paramLabel = "FILE.jsonl", required = true, description = "documents, one {\"text\": ...} per line")
    Path docs;

    @Option(names = "--docs-limit", paramLabel = "N", defaultValue = "6", description = "documents to use (default: ${DEFAULT-VALUE})")
    int docsLimit;

    @Option(names = "--min-chars", paramLabel = "N", defaultValue = "6000",
            description = "skip documents of at most this many characters (default: ${DEFAULT-VALUE})")
    int minChars;

    @Option(names = "--prompt-tokens", paramLabel = "N", defaultValue = "1000", description = "prompt length (default: ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--new-tokens", paramLabel = "N", defaultValue = "256", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int newTokens;

    @Option(names = "--gamma", paramLabel = "N", split = ",",
            description = "draft lengths to evaluate, comma-separated or repeated (default: 4)")
    List<Integer> gammas;

    @Option(names = "--perplexity", description = "also report teacher-forced perplexity with the full-precision cache (fp), "
            + "the target's INT8 view (int8) and the draft's INT4 view with 4-bit weights (int4)")
    boolean perplexity;

    @Option(names = "--perplexity-docs", paramLabel = "N", defaultValue = "4",
            description = "documents scored for perplexity, the first of those selected (default: ${DEFAULT-VALUE})")
    int perplexityDocs;

    @Option(names = "--perplexity-tokens", paramLabel = "N", defaultValue = "1000",
            description = "tokens of each document scored for perplexity, BOS included (default: ${DEFAULT-VALUE})")
    int perplexityTokens;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Mixin
    EngineFlags engineFlags;

    /** Sums over documents for one γ. */
    private static final class Totals {
        final int gamma;
        int docs;
        int lossless;
        long drafted;
        long accepted;
        long targetPasses;
        long decodedTokens; // tokens after the first (which comes from the prefill)
        double quantSpecDecodeSeconds;
        double autoregressiveDecodeSeconds;
        final List<Map<String, Object>> perDoc = new ArrayList<>();

        Totals(int gamma) {
            this.gamma = gamma;
        }
    }

    @Override
    public Integer call() {
        OptionChecks.requirePositive(spec, docsLimit, "--docs-limit");
        OptionChecks.require(spec, minChars >= 0, "--min-chars must be >= 0, got " + minChars);
        OptionChecks.requirePositive(spec, promptTokens, "--prompt-tokens");
        OptionChecks.requirePositive(spec, newTokens, "--new-tokens");
        List<Integer> gammaList = gammas == null || gammas.isEmpty() ? List.of(4) : gammas.stream().distinct().toList();
        gammaList.forEach(g -> OptionChecks.requireGamma(spec, g));
        OptionChecks.requirePositive(spec, perplexityDocs, "--perplexity-docs");
        OptionChecks.require(spec, perplexityTokens >= 2, "--perplexity-tokens must be >= 2, got " + perplexityTokens);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        var options = engineFlags.toOptions();
        try (QuantSpecEngine engine = QuantSpecEngine.load(model.resolve(), options)) {
            List<Doc> selected = selectDocs(engine);
            engine.draftWeights(); // built once here, so its cost is not charged to the first document
            warmUp(engine, selected.get(0).prompt, gammaList.get(0));
            List<Totals> totals = gammaList.stream().map(Totals::new).toList();
            for (Doc doc : selected) {
                GenerationResult ar = engine.generate(request(doc.prompt, DecoderKind.AUTOREGRESSIVE, 0));
                for (Totals t : totals) {
                    GenerationResult qs = engine.generate(request(doc.prompt, DecoderKind.QUANTSPEC, t.gamma));
                    add(t, doc, ar, qs, err);
                }
            }
            Map<Perplexity.Mode, Perplexity.Result> ppl = perplexity ? perplexities(engine, selected) : Map.of();
            if (json) {
                Map<String, Object> report = report(engine, selected, new java.util.TreeSet<>(options.draftProjections()).toString(), totals);
                if (perplexity) {
                    report.put("perplexity", perplexityJson(ppl));
                }
                JsonLines.write(out, report);
            } else {
                out.printf("%s: %d documents of %s, prompt %d tokens, %d new tokens, greedy, draft %s in 4 bits, G = %d%n",
                        engine.modelDir().getFileName(), selected.size(), docs.getFileName(), promptTokens, newTokens,
                        new java.util.TreeSet<>(options.draftProjections()), options.groupSize());
                out.print(table(totals));
                if (perplexity) {
                    out.println(perplexityLine(ppl, Math.min(perplexityDocs, selected.size())));
                }
            }
            out.flush();
        }
        return 0;
    }

    /**
     * A selected document.
     *
     * @param prompt its first {@code promptTokens} tokens
     * @param tokens its first {@code perplexityTokens} tokens, or all of them when it has fewer
     */
    private record Doc(int line, int[] prompt, int[] tokens) {}

    private List<Doc> selectDocs(QuantSpecEngine engine) {
        List<Doc> selected = new ArrayList<>();
        for (JsonLines.Line line : JsonLines.read(docs.toString(), root.in())) {
            if (selected.size() == docsLimit) {
                break;
            }
            String text = line.string("text");
            if (text.length() <= minChars) {
                continue;
            }
            int[] ids = engine.tokenizer().encode(text);
            if (ids.length < promptTokens) {
                spec.commandLine().getErr().printf("skipping %s line %d: %d tokens, fewer than --prompt-tokens %d%n",
                        line.source(), line.number(), ids.length, promptTokens);
                continue;
            }
            selected.add(new Doc(line.number(), Arrays.copyOf(ids, promptTokens),
                    Arrays.copyOf(ids, Math.min(ids.length, perplexityTokens))));
        }
        if (selected.isEmpty()) {
            throw new QuantSpecException("no document in " + docs + " has more than " + minChars
                    + " characters and at least " + promptTokens + " tokens: lower --min-chars or --prompt-tokens");
        }
        return selected;
    }

    /** Perplexity per cache view, summed over the first --perplexity-docs selected documents. */
    private Map<Perplexity.Mode, Perplexity.Result> perplexities(QuantSpecEngine engine, List<Doc> selected) {
        if (perplexityTokens > engine.contextLength()) {
            throw new QuantSpecException("--perplexity-tokens " + perplexityTokens + " exceeds the context of "
                    + engine.contextLength() + " tokens");
        }
        Map<Perplexity.Mode, Perplexity.Result> sums = new java.util.EnumMap<>(Perplexity.Mode.class);
        for (Doc doc : selected.subList(0, Math.min(perplexityDocs, selected.size()))) {
            for (Perplexity.Mode mode : Perplexity.Mode.values()) {
                sums.merge(mode, Perplexity.evaluate(engine, doc.tokens, mode), Perplexity.Result::plus);
            }
        }
        return sums;
    }

    private static String perplexityLine(Map<Perplexity.Mode, Perplexity.Result> ppl, int docs) {
        double fp = ppl.get(Perplexity.Mode.FP).perplexity();
        StringBuilder b = new StringBuilder("perplexity over " + ppl.get(Perplexity.Mode.FP).count() + " predicted tokens of "
                + docs + " documents:");
        for (Perplexity.Mode mode : Perplexity.Mode.values()) {
            double p = ppl.get(mode).perplexity();
            b.append(' ').append(mode.label()).append(' ').append(StatsLine.number(p, 4));
            if (mode != Perplexity.Mode.FP) {
                b.append(" (").append(p >= fp ? "+" : "").append(StatsLine.number(100 * (p - fp) / fp, 2)).append("%)");
            }
            b.append(mode == Perplexity.Mode.INT4 ? "" : ",");
        }
        return b.toString();
    }

    private static Map<String, Object> perplexityJson(Map<Perplexity.Mode, Perplexity.Result> ppl) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("predicted_tokens", ppl.get(Perplexity.Mode.FP).count());
        for (Perplexity.Mode mode : Perplexity.Mode.values()) {
            m.put(mode.label(), finite(ppl.get(mode).perplexity()));
        }
        return m;
    }

    /**
     * Short unmeasured runs of both decoders, so that the first document's figures do not include
     * the JIT compiling the kernels (the first runs of a JVM are several times slower).
     */
    private void warmUp(QuantSpecEngine engine, int[] prompt, int gamma) {
        int tokens = Math.min(newTokens, 16);
        for (DecoderKind decoder : DecoderKind.values()) {
            engine.generate(new GenerationRequest(prompt, tokens, SamplingParams.GREEDY, List.of(), true,
                    decoder, KvCacheKind.HIERARCHICAL, decoder == DecoderKind.QUANTSPEC ? gamma : 0));
        }
    }

    private GenerationRequest request(int[] prompt, DecoderKind decoder, int gamma) {
        return new GenerationRequest(prompt, newTokens, SamplingParams.GREEDY, List.of(), true,
                decoder, KvCacheKind.HIERARCHICAL, gamma);
    }

    private static void add(Totals t, Doc doc, GenerationResult ar, GenerationResult qs, PrintWriter err) {
        DecodeStats s = qs.stats();
        int[] a = ar.ids();
        int[] q = qs.ids();
        boolean same = Arrays.equals(a, q);
        t.docs++;
        t.lossless += same ? 1 : 0;
        t.drafted += s.drafted();
        t.accepted += s.accepted();
        t.targetPasses += s.targetPasses();
        t.decodedTokens += s.generatedTokens() - 1;
        t.quantSpecDecodeSeconds += s.decodeSeconds();
        t.autoregressiveDecodeSeconds += ar.stats().decodeSeconds();
        if (!same) {
            // Never hide a divergence: say where it starts, so it can be checked against a near tie.
            err.printf("NOT LOSSLESS: document at line %d, gamma %d: outputs first differ at new token %d%n",
                    doc.line, t.gamma, Arrays.mismatch(a, q));
            err.flush();
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("line", doc.line);
        d.put("identical", same);
        d.put("acceptance_rate", finite(s.acceptanceRate()));
        d.put("tokens_per_target_pass", finite(s.tokensPerTargetPass()));
        t.perDoc.add(d);
    }

    private static MarkdownTable table(List<Totals> totals) {
        MarkdownTable table = new MarkdownTable("gamma", "docs", "drafted", "accepted", "acceptance", "lossless",
                "tokens/pass", "quantspec tok/s", "autoregressive tok/s", "speedup");
        for (Totals t : totals) {
            double qs = t.decodedTokens / t.quantSpecDecodeSeconds;
            double ar = t.decodedTokens / t.autoregressiveDecodeSeconds;
            table.row(t.gamma, t.docs, t.drafted, t.accepted,
                    t.drafted == 0 ? "-" : StatsLine.number(100.0 * t.accepted / t.drafted, 1) + "%",
                    t.lossless + "/" + t.docs, StatsLine.number((double) t.decodedTokens / t.targetPasses, 2),
                    StatsLine.number(qs, 1), StatsLine.number(ar, 1), StatsLine.number(qs / ar, 2) + "x");
        }
        return table;
    }

    private Map<String, Object> report(QuantSpecEngine engine, List<Doc> selected, String draftLayers, List<Totals> totals) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", engine.modelDir().getFileName().toString());
        m.put("docs_file", docs.toString());
        m.put("doc_lines", selected.stream().map(Doc::line).toList());
        m.put("prompt_tokens", promptTokens);
        m.put("new_tokens", newTokens);
        m.put("draft_layers", draftLayers);
        m.put("group_size", engine.options().groupSize());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Totals t : totals) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("gamma", t.gamma);
            r.put("docs", t.docs);
            r.put("drafted", t.drafted);
            r.put("accepted", t.accepted);
            r.put("acceptance_rate", finite((double) t.accepted / t.drafted));
            r.put("lossless", t.lossless);
            r.put("tokens_per_target_pass", finite((double) t.decodedTokens / t.targetPasses));
            r.put("quantspec_decode_tokens_per_s", finite(t.decodedTokens / t.quantSpecDecodeSeconds));
            r.put("autoregressive_decode_tokens_per_s", finite(t.decodedTokens / t.autoregressiveDecodeSeconds));
            r.put("per_doc", t.perDoc);
            rows.add(r);
        }
        m.put("results", rows);
        return m;
    }

    /** JSON has no NaN: an undefined figure (nothing drafted, nothing decoded) is null. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
