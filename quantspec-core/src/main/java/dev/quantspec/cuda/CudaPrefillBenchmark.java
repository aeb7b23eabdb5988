package dev.quantspec.cuda;

import dev.quantspec.model.LlamaConfig;
import dev.quantspec.safetensors.WeightFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Prefill throughput on the GPU, batch 1, timed with GPU events around whole {@code prefill} calls
 * (upload of the prompt, every chunk, the last position's logits and argmax):
 * <ul>
 *   <li>qs-tiny (a real model folder): 1K and 3K random-token prompts, chunked and, for comparison,
 *       step by step (one decode-graph replay per position);</li>
 *   <li>random weights of the Llama-2-7B shape: 8K and 32K prompts, chunked; the FLOPs of the
 *       projections (2 x parameters x tokens) and of causal attention give the achieved TFLOP/s.</li>
 * </ul>
 * Usage: {@code CudaPrefillBenchmark <out.json> [<model folder>] [chunk]}.
 */
public final class CudaPrefillBenchmark {
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "prefill-bench.json");
        Path model = args.length > 1 && !args[1].isEmpty() ? Path.of(args[1]) : null;
        int chunk = args.length > 2 ? Integer.parseInt(args[2]) : CudaTransformer.DEFAULT_PREFILL_CHUNK;
        List<String> rows = new ArrayList<>();
        try (CudaContext context = CudaRuntime.get().open(0)) {
            System.out.printf(Locale.ROOT, "device %s, %d SMs, prefill chunk %d%n", context.deviceName(),
                    context.multiprocessorCount(), chunk);
            if (model != null) {
                LlamaConfig config = LlamaConfig.load(model);
                try (WeightFiles files = WeightFiles.open(model);
                     CudaTransformer m = new CudaTransformer(context, config, files, 3072)) {
                    m.setPrefillChunk(chunk);
                    for (int length : new int[] {1024, 3072}) {
                        measure(m, model.getFileName().toString(), length, true, 5, rows);
                        measure(m, model.getFileName().toString(), length, false, 1, rows);
                    }
                }
                write(out, rows);
            }
            LlamaConfig config = CudaDecodeBenchmark.shape("llama2-7b");
            long t0 = System.nanoTime();
            try (CudaTransformer m = CudaTransformer.withRandomWeights(context, config, 32768, 1234)) {
                m.setPrefillChunk(chunk);
                System.out.printf(Locale.ROOT, "llama2-7b random weights in %.1f s%n", (System.nanoTime() - t0) / 1e9);
                measure(m, "llama2-7b", 8192, true, 3, rows);
                write(out, rows);
                measure(m, "llama2-7b", 32768, true, 2, rows);
            }
        }
        write(out, rows);
    }

    /** Median of {@code repeats} timed prefills of a random prompt of {@code length} tokens (after one warm-up). */
    private static void measure(CudaTransformer m, String name, int length, boolean chunked, int repeats, List<String> rows) {
        LlamaConfig c = m.config();
        int[] prompt = new SplittableRandom(length).ints(length, 2, c.vocabSize()).toArray();
        m.setChunkedPrefill(chunked);
        double[] ms = new double[repeats];
        long wall0 = System.nanoTime();
        m.gpuMillisForPrefill(prompt);  // warm-up: cuBLAS picks its kernels, the chunk buffers are allocated
        double warmMs = (System.nanoTime() - wall0) / 1e6;
        for (int r = 0; r < repeats; r++) ms[r] = m.gpuMillisForPrefill(prompt);
        Arrays.sort(ms);
        double median = ms[repeats / 2];
        double projections = 2.0 * c.numLayers() * ((double) (c.qDim() + 2 * c.kvDim()) * c.hiddenSize()
                + (double) c.hiddenSize() * c.qDim() + 3.0 * c.intermediateSize() * c.hiddenSize()) * length;
        // causal attention: QK^T and PV, 2 FLOPs per multiply-add, half the square
        double attention = 2.0 * 2.0 * c.numLayers() * c.numHeads() * c.headDim() * (double) length * (length + 1) / 2;
        String row = String.format(Locale.ROOT, "{\"model\": \"%s\", \"chunked\": %b, \"chunk\": %d, \"prompt\": %d, "
                        + "\"gpu_ms\": %.2f, \"tokens_per_s\": %.0f, \"TFLOPs\": %.1f, \"first_call_wall_ms\": %.1f, "
                        + "\"repeats\": %d, \"all_ms\": %s}",
                name, chunked, chunked ? m.prefillChunk() : 1, length, median, length / median * 1000,
                (projections + attention) / median / 1e9, warmMs, repeats, Arrays.toString(ms));
        System.out.println(row);
        rows.add(row);
    }

    private static void write(Path out, List<String> rows) throws IOException {
        Files.writeString(out, "{\"rows\": [\n" + String.join(",\n", rows) + "\n]}\n");
    }
}
