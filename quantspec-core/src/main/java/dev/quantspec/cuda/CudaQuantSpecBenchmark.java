package dev.quantspec.cuda;

import dev.quantspec.kv.HierarchicalCacheConfig;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.Projection;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * QuantSpec's steps at 7B scale on the GPU, batch 1, random weights of the Llama-2-7B and
 * Llama-3.1-8B shapes and a cache filled to 8K, 32K and 128K positions: GPU ms of one draft step
 * (4-bit MLP draft, INT4 view), one verification pass of γ+1 = 5 positions (INT8 view) and one
 * autoregressive step (bf16 weights, fp16 cache), each a graph replay timed with events; device
 * memory each mode holds; and the speedup these give at an acceptance rate a:
 * <pre>
 *   tokens per round   E = a·γ + 1                          (accepted drafts + the target's token)
 *   time per round     T = γ·T_draft + T_verify
 *   speedup            S = E · T_autoregressive / T
 * </pre>
 * Each speedup is given twice: from the separately timed steps, and from one greedy round of γ drafts
 * and the verification timed as the single graph the decoder launches ({@code round_ms}).
 * {@code sampled_round_ms} times the sampled round's graph (T 0.7, top-p 0.9: distributions, draws and
 * the acceptance rule on the device) beside it.
 * Usage: {@code CudaQuantSpecBenchmark <out.json> [acceptance ...]} (default qs-small's measured γ=4 acceptance on
 * 1000-token prompts of 24 held-out documents with the all-4-bit draft, 0.977, and with the MLP draft, 0.980, and
 * 0.974, the independent oracle's on 6 documents), or
 * {@code CudaQuantSpecBenchmark --gamma-sweep <out.json>}: greedy rounds of γ 2 to 8, or
 * {@code CudaQuantSpecBenchmark --profile <out.txt>}: the GPU time of every kernel of an autoregressive
 * step, a draft step and a 5-row verification at 8K and 128K ({@link LaunchProfile}), beside the graph time, or
 * {@code CudaQuantSpecBenchmark --round-parts}: a round's graph against graphs of its parts (stdout).
 */
public final class CudaQuantSpecBenchmark {
    private static final int GAMMA = 4;
    private static final int G = 128;

    /**
     * γ of the sweep (all-4-bit draft) and qs-small's measured acceptance at each with that draft (1000-token prompts,
     * 256 new tokens, the first 24 held-out documents longer than 6000 characters; BENCHMARKS.md, sixth session).
     */
    private static final int[] SWEEP_GAMMAS = {2, 4, 5, 6, 7, 8};
    private static final double[] SWEEP_ACCEPTANCE = {0.983, 0.977, 0.967, 0.973, 0.959, 0.954};

    public static void main(String[] args) throws IOException {
        if (args.length > 0 && args[0].equals("--gamma-sweep")) {
            gammaSweep(Path.of(args.length > 1 ? args[1] : "quantspec-gamma-sweep.json"));
            return;
        }
        if (args.length > 0 && args[0].equals("--profile")) {
            profile(Path.of(args.length > 1 ? args[1] : "quantspec-profile.txt"));
            return;
        }
        if (args.length > 0 && args[0].equals("--round-parts")) {
            roundParts();
            return;
        }
        Path out = Path.of(args.length > 0 ? args[0] : "quantspec-bench.json");
        double[] acceptance = args.length > 1
                ? java.util.Arrays.stream(args, 1, args.length).mapToDouble(Double::parseDouble).toArray()
                : new double[] {0.977, 0.980, 0.974};
        int[] contexts = {8192, 32768, 131072};
        List<String> rows = new ArrayList<>();
        try (CudaContext context = CudaRuntime.get().open(0)) {
            System.out.printf(Locale.ROOT, "device %s, %d SMs%n", context.deviceName(), context.multiprocessorCount());
            for (String name : new String[] {"llama2-7b", "llama3.1-8b"}) {
                shape(context, name, contexts, acceptance, rows);
                Files.writeString(out, "{\"rows\": [\n" + String.join(",\n", rows) + "\n]}\n");
            }
        }
    }

    /**
     * Greedy rounds of γ = 2, 4, 6, 8 drafts (all projections 4-bit) against the autoregressive step,
     * both shapes at 8K, 32K and 128K: which γ pays best at 7B scale, at qs-small's acceptance for each γ.
     */
    private static void gammaSweep(Path out) throws IOException {
        int[] contexts = {8192, 32768, 131072};
        int maxGamma = SWEEP_GAMMAS[SWEEP_GAMMAS.length - 1];
        List<String> rows = new ArrayList<>();
        try (CudaContext context = CudaRuntime.get().open(0)) {
            for (String name : new String[] {"llama2-7b", "llama3.1-8b"}) {
                LlamaConfig config = CudaDecodeBenchmark.shape(name);
                int maxCtx = contexts[contexts.length - 1];
                try (DeviceLlamaWeights weights = DeviceLlamaWeights.random(context, config, 1234)) {
                    double[] arMs = new double[contexts.length];
                    try (CudaTransformer ar = new CudaTransformer(context, weights, maxCtx)) {
                        ar.fillCacheRandom(99);
                        for (int i = 0; i < contexts.length; i++) arMs[i] = ar.gpuMillisPerStep(contexts[i] - 1, 10, 7);
                    }
                    HierarchicalCacheConfig cache = new HierarchicalCacheConfig(G, config.headDim(), G);
                    try (CudaQuantSpecModel qs = new CudaQuantSpecModel(context, weights, cache, maxCtx + 2 * maxGamma,
                            maxGamma, Projection.ALL, 128, false)) {
                        for (int i = 0; i < contexts.length; i++) {
                            qs.fillRandom(contexts[i] - maxGamma - 1, G - maxGamma - 1, 7 + i);
                            for (int j = 0; j < SWEEP_GAMMAS.length; j++) {
                                int gamma = SWEEP_GAMMAS[j];
                                double roundMs = qs.gpuMillisPerRound(gamma, 5, 5);
                                double tokens = SWEEP_ACCEPTANCE[j] * gamma + 1;
                                String row = String.format(Locale.ROOT, "{\"shape\": \"%s\", \"context\": %d, "
                                                + "\"draft\": \"all\", \"gamma\": %d, \"acceptance\": %.3f, \"ar_ms\": %.3f, "
                                                + "\"round_ms\": %.3f, \"ms_per_token\": %.3f, \"speedup\": %.3f}",
                                        name, contexts[i], gamma, SWEEP_ACCEPTANCE[j], arMs[i], roundMs, roundMs / tokens,
                                        tokens * arMs[i] / roundMs);
                                System.out.println(row);
                                rows.add(row);
                            }
                        }
                    }
                }
                Files.writeString(out, "{\"rows\": [\n" + String.join(",\n", rows) + "\n]}\n");
            }
        }
    }

    /** Per-kernel GPU times of the three passes, both shapes, 8K and 128K (where a step's time goes). */
    private static void profile(Path out) throws IOException {
        int[] contexts = {8192, 131072};
        StringBuilder sb = new StringBuilder();
        try (CudaContext context = CudaRuntime.get().open(0)) {
            for (String name : new String[] {"llama2-7b", "llama3.1-8b"}) {
                LlamaConfig config = CudaDecodeBenchmark.shape(name);
                int maxCtx = contexts[contexts.length - 1];
                try (DeviceLlamaWeights weights = DeviceLlamaWeights.random(context, config, 1234)) {
                    try (CudaTransformer ar = new CudaTransformer(context, weights, maxCtx)) {
                        ar.fillCacheRandom(99);
                        for (int ctx : contexts) {
                            double graphMs = ar.gpuMillisPerStep(ctx - 1, 10, 5);
                            section(sb, name, ctx, "autoregressive step", graphMs, ar.profileStep(ctx - 1));
                        }
                    }
                    HierarchicalCacheConfig cache = new HierarchicalCacheConfig(G, config.headDim(), G);
                    try (CudaQuantSpecModel qs = new CudaQuantSpecModel(context, weights, cache, maxCtx + 2 * GAMMA, GAMMA,
                            Projection.ALL, 128, false)) {
                        for (int i = 0; i < contexts.length; i++) {
                            qs.fillRandom(contexts[i] - GAMMA - 1, G - GAMMA - 1, 7 + i);
                            section(sb, name, contexts[i], "draft step", qs.gpuMillisPerDraftStep(10, 5), qs.profileDraftStep());
                            section(sb, name, contexts[i], "verification of " + (GAMMA + 1),
                                    qs.gpuMillisPerVerify(GAMMA + 1, 10, 5), qs.profileVerify(GAMMA + 1));
                        }
                    }
                }
                Files.writeString(out, sb.toString());
            }
        }
    }

    /**
     * Where a greedy round's time goes beyond its passes timed one by one (Llama-2-7B shape, all-4-bit draft):
     * the round graph against graphs of its draft steps alone and of its verification alone, 8K and 128K.
     */
    private static void roundParts() {
        int[] contexts = {8192, 131072};
        try (CudaContext context = CudaRuntime.get().open(0)) {
            LlamaConfig config = CudaDecodeBenchmark.shape("llama2-7b");
            try (DeviceLlamaWeights weights = DeviceLlamaWeights.random(context, config, 1234);
                 CudaQuantSpecModel qs = new CudaQuantSpecModel(context, weights, new HierarchicalCacheConfig(G, config.headDim(), G),
                         contexts[contexts.length - 1] + 2 * GAMMA, GAMMA, Projection.ALL, 128, false)) {
                for (int i = 0; i < contexts.length; i++) {
                    qs.fillRandom(contexts[i] - GAMMA - 1, G - GAMMA - 1, 7 + i);
                    for (int rep = 0; rep < 2; rep++) {
                        double draft = qs.gpuMillisPerDraftStep(10, 7);
                        double verify = qs.gpuMillisPerVerify(GAMMA + 1, 10, 7);
                        double round = qs.gpuMillisPerRound(GAMMA, 10, 7);
                        double drafts = qs.gpuMillisPerRoundPart(GAMMA, true, false, 10, 7);
                        double verification = qs.gpuMillisPerRoundPart(GAMMA, false, true, 10, 7);
                        double round1 = qs.gpuMillisPerRound(GAMMA, 1, 21);
                        System.out.printf(Locale.ROOT, "{\"context\": %d, \"draft_ms\": %.3f, \"verify5_ms\": %.3f, "
                                        + "\"parts_sum_ms\": %.3f, \"round_ms\": %.3f, \"round_drafts_only_ms\": %.3f, "
                                        + "\"round_verify_only_ms\": %.3f, \"round_one_per_batch_ms\": %.3f}%n",
                                contexts[i], draft, verify, GAMMA * draft + verify, round, drafts, verification, round1);
                    }
                }
            }
        }
    }

    private static void section(StringBuilder sb, String shape, int ctx, String pass, double graphMs, LaunchProfile p) {
        String s = String.format(Locale.ROOT, "## %s, context %d, %s: graph %.3f ms, kernels back to back %.3f ms%n%s%n",
                shape, ctx, pass, graphMs, p.totalMillis(), p.table());
        System.out.print(s);
        sb.append(s);
    }

    private static void shape(CudaContext context, String name, int[] contexts, double[] acceptance, List<String> rows) {
        LlamaConfig config = CudaDecodeBenchmark.shape(name);
        int maxCtx = contexts[contexts.length - 1];
        long free0 = context.freeMemory();
        try (DeviceLlamaWeights weights = DeviceLlamaWeights.random(context, config, 1234)) {
            long weightMem = free0 - context.freeMemory();
            double[] arMs = new double[contexts.length];
            long arMem;
            long free1 = context.freeMemory();
            try (CudaTransformer ar = new CudaTransformer(context, weights, maxCtx)) {
                arMem = free1 - context.freeMemory();
                ar.fillCacheRandom(99);
                for (int i = 0; i < contexts.length; i++) arMs[i] = ar.gpuMillisPerStep(contexts[i] - 1, 10, 7);
            }
            for (Set<Projection> draft : List.of(Projection.MLP, Projection.ALL)) {
                long free2 = context.freeMemory();
                // the paper's G = 128, one value group per head (QUANTSPEC.md), R = G
                HierarchicalCacheConfig cache = new HierarchicalCacheConfig(G, config.headDim(), G);
                try (CudaQuantSpecModel qs = new CudaQuantSpecModel(context, weights, cache, maxCtx + 2 * GAMMA, GAMMA,
                        draft, 128, false)) {
                    long qsMem = free2 - context.freeMemory();
                    for (int i = 0; i < contexts.length; i++) {
                        int ctx = contexts[i];
                        // ctx - G quantized positions and G buffer rows once the γ+1 verified rows are in
                        qs.fillRandom(ctx - GAMMA - 1, G - GAMMA - 1, 7 + i);
                        double draftMs = qs.gpuMillisPerDraftStep(10, 7);
                        double verifyMs = qs.gpuMillisPerVerify(GAMMA + 1, 10, 7);
                        double verify1Ms = qs.gpuMillisPerVerify(1, 10, 7);
                        double roundMs = qs.gpuMillisPerRound(GAMMA, 10, 7);
                        // a sampled round (T 0.7, top-p 0.9: the distributions, draws and acceptance rule on the device)
                        double sampledMs = qs.gpuMillisPerSampledRound(GAMMA, 0.7f, 0, 0.9f, 10, 7);
                        StringBuilder speedups = new StringBuilder();
                        for (double a : acceptance) {
                            double tokens = a * GAMMA + 1;
                            double speedup = tokens * arMs[i] / (GAMMA * draftMs + verifyMs);
                            double measuredRound = tokens * arMs[i] / roundMs;
                            speedups.append(String.format(Locale.ROOT, "%s\"%.3f\": [%.3f, %.3f]",
                                    speedups.length() == 0 ? "" : ", ", a, speedup, measuredRound));
                        }
                        String row = String.format(Locale.ROOT, "{\"shape\": \"%s\", \"context\": %d, \"draft\": \"%s\", "
                                        + "\"gamma\": %d, \"ar_ms\": %.3f, \"draft_ms\": %.3f, \"verify5_ms\": %.3f, "
                                        + "\"verify1_ms\": %.3f, \"round_ms\": %.3f, \"sampled_round_ms\": %.3f, \"speedup_at_acceptance\": {%s}, \"weights_GB\": %.2f, "
                                        + "\"ar_cache_and_activations_GB\": %.2f, \"quantspec_cache_draft_activations_GB\": %.2f, "
                                        + "\"draft_4bit_GB\": %.2f, \"ar_total_GB\": %.2f, \"quantspec_total_GB\": %.2f}",
                                name, ctx, draft.size() == Projection.ALL.size() ? "all" : "mlp", GAMMA, arMs[i], draftMs,
                                verifyMs, verify1Ms, roundMs, sampledMs, speedups, weightMem / 1e9, arMem / 1e9, qsMem / 1e9,
                                qs.draftWeightBytes() / 1e9, (weightMem + arMem) / 1e9, (weightMem + qsMem) / 1e9);
                        System.out.println(row);
                        rows.add(row);
                    }
                }
            }
        }
    }
}
