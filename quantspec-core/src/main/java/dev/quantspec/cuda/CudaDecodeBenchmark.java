package dev.quantspec.cuda;

import dev.quantspec.model.LlamaConfig;
import dev.quantspec.safetensors.WeightFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Whole decode steps on the GPU, batch 1:
 * <ul>
 *   <li>a real model folder (qs-tiny): prompts of 1K and 3K random tokens fed position by position,
 *       then greedy tokens through the same host loop the engine uses (upload token and position,
 *       replay the step graph, download the argmax): tokens/s end to end, and the GPU time of one
 *       step alone (graph replays timed with events); once more kernel by kernel for comparison;</li>
 *   <li>random weights of the Llama-2-7B and Llama-3.1-8B shapes with the KV cache filled: ms per
 *       step at 8K, 32K and 128K context (the step attends that many positions) and the fraction
 *       of 4262 GB/s that weight + KV bytes make.</li>
 * </ul>
 * Usage: {@code CudaDecodeBenchmark <out.json> [<model folder>]}.
 */
public final class CudaDecodeBenchmark {
    private static final double REFERENCE_GBPS = 4262.0;

    /** The named real shapes (Hugging Face config values). */
    static LlamaConfig shape(String name) {
        return switch (name) {
            case "llama2-7b" -> new LlamaConfig(4096, 11008, 32, 32, 32, 128, 1e-5f, 10000f, false, 32000, 4096, 1,
                    new int[] {2});
            case "llama3.1-8b" -> new LlamaConfig(4096, 14336, 32, 32, 8, 128, 1e-5f, 500000f, false, 128256, 131072,
                    128000, new int[] {128001});
            case "mistral-7b" -> new LlamaConfig(4096, 14336, 32, 32, 8, 128, 1e-5f, 1000000f, false, 32768, 32768, 1,
                    new int[] {2});
            default -> throw new IllegalArgumentException("unknown shape " + name
                    + ": use llama2-7b, llama3.1-8b or mistral-7b");
        };
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "decode-bench.json");
        Path model = args.length > 1 ? Path.of(args[1]) : null;
        List<String> rows = new ArrayList<>();
        try (CudaContext context = CudaRuntime.get().open(0)) {
            System.out.printf(Locale.ROOT, "device %s, %d SMs%n", context.deviceName(), context.multiprocessorCount());
            if (model != null) {
                realModel(context, model, rows);
            }
            for (String name : new String[] {"llama2-7b", "llama3.1-8b"}) {
                dummyShape(context, name, new int[] {8192, 32768, 131072}, rows);
                Files.writeString(out, "{\"rows\": [\n" + String.join(",\n", rows) + "\n]}\n");
            }
        }
        Files.writeString(out, "{\"rows\": [\n" + String.join(",\n", rows) + "\n]}\n");
    }

    private static void realModel(CudaContext context, Path dir, List<String> rows) {
        LlamaConfig config = LlamaConfig.load(dir);
        SplittableRandom random = new SplittableRandom(7);
        try (WeightFiles files = WeightFiles.open(dir);
             CudaTransformer m = new CudaTransformer(context, config, files, 4096)) {
            for (int promptLength : new int[] {1024, 3072}) {
                for (boolean graph : new boolean[] {true, false}) {
                    if (!graph && promptLength != 1024) continue;
                    m.setUseGraph(graph);
                    int[] prompt = new int[promptLength];
                    for (int i = 0; i < promptLength; i++) prompt[i] = 2 + random.nextInt(config.vocabSize() - 2);
                    long t0 = System.nanoTime();
                    int next = m.prefill(prompt, 0);
                    long t1 = System.nanoTime();
                    int tokens = 256;
                    for (int i = 0; i < tokens; i++) next = m.step(next, promptLength + i);
                    long t2 = System.nanoTime();
                    double gpuMs = graph ? m.gpuMillisPerStep(promptLength + tokens, 50, 7) : Double.NaN;
                    double prefillTps = promptLength / ((t1 - t0) / 1e9);
                    double decodeTps = tokens / ((t2 - t1) / 1e9);
                    String row = String.format(Locale.ROOT, "{\"model\": \"%s\", \"graph\": %b, \"prompt\": %d, "
                                    + "\"prefill_tokens_per_s\": %.1f, \"decode_tokens\": %d, \"decode_tokens_per_s\": %.1f, "
                                    + "\"decode_ms_per_token\": %.4f, \"gpu_ms_per_step\": %.4f}",
                            dir.getFileName(), graph, promptLength, prefillTps, tokens, decodeTps, 1000.0 / decodeTps, gpuMs);
                    System.out.println(row);
                    rows.add(row);
                }
            }
        }
    }

    private static void dummyShape(CudaContext context, String name, int[] contexts, List<String> rows) {
        LlamaConfig config = shape(name);
        int maxSeq = contexts[contexts.length - 1];
        long t0 = System.nanoTime();
        try (CudaTransformer m = CudaTransformer.withRandomWeights(context, config, maxSeq, 1234)) {
            m.fillCacheRandom(99);
            System.out.printf(Locale.ROOT, "%s: random weights (%.2f GB read per step) and a %d-position cache in %.1f s%n",
                    name, m.weightBytes() / 1e9, maxSeq, (System.nanoTime() - t0) / 1e9);
            for (int ctx : contexts) {
                double ms = m.gpuMillisPerStep(ctx - 1, 10, 7);
                // the same step through the host loop (upload, replay, download of the argmax)
                long h0 = System.nanoTime();
                int steps = 10;
                for (int i = 0; i < steps; i++) m.step(5, ctx - 1);
                double hostMs = (System.nanoTime() - h0) / 1e6 / steps;
                long bytes = m.weightBytes() + m.kvBytes(ctx);
                double gbps = bytes / ms / 1e6;
                String row = String.format(Locale.ROOT, "{\"shape\": \"%s\", \"context\": %d, \"gpu_ms_per_step\": %.3f, "
                                + "\"host_loop_ms_per_step\": %.3f, \"weight_GB\": %.3f, \"kv_GB\": %.3f, \"GBps\": %.0f, "
                                + "\"fraction_of_4262\": %.3f}",
                        name, ctx, ms, hostMs, m.weightBytes() / 1e9, m.kvBytes(ctx) / 1e9, gbps, gbps / REFERENCE_GBPS);
                System.out.println(row);
                rows.add(row);
            }
        }
    }
}
