package dev.quantspec.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times the quantized-KV attention kernels (INT4 draft with 1 query, INT8 verification with 5) at
 * the Llama-2-7B (32 heads x 128, MHA) and Llama-3.1-8B (32 q / 8 kv heads) layer shapes, contexts
 * 8K..256K, G = 128, value group 128, 256 tokens in the fp16 buffer. Reports us per layer, GB/s of
 * the bytes the kernel reads and the fraction of 4262 GB/s. Same method as {@link CudaKernelBenchmark}:
 * random data, enough copies of the layer's cache that a timed batch streams >= 512 MB, median of
 * 7 batches of 20 calls replayed from a CUDA graph. Writes JSON to the path given as the first argument.
 * DRAFT: the default (version 7, tensor cores) beside the previous default (version 3 for MHA, version 1 for
 * GQA), each with its own split. VERIFY: version 1 (the fallback) beside the version-6 tensor-core
 * variants without register prefetch (prefetch lost 15-20% on the H200; version 2 lost 10-20% to version 1),
 * each with its own split. Both views also time the default tuning through {@code runAtHeader} (the decoder's
 * graph path).
 */
public final class QuantizedAttentionBenchmark {
    private static final long ROTATION_BYTES = 512L << 20;
    private static final int BATCHES = 7;
    private static final int PER_BATCH = 20;
    private static final int BUFFERED = 256;  // <= 2G + gamma + 1

    private final CudaContext context;
    private final SplittableRandom random = new SplittableRandom(7);
    private final List<String> rows = new ArrayList<>();

    private QuantizedAttentionBenchmark(CudaContext context) {
        this.context = context;
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "quantkv-bench.json");
        try (CudaContext context = CudaRuntime.get().open(0)) {
            QuantizedAttentionBenchmark bench = new QuantizedAttentionBenchmark(context);
            System.out.printf(Locale.ROOT, "device %s, %d SMs%n", context.deviceName(), context.multiprocessorCount());
            for (int ctx : new int[] {8192, 32768, 131072, 262144}) {
                for (QuantizedDecodeAttention.View view : QuantizedDecodeAttention.View.values()) {
                    bench.attention("llama2-7b", 32, 32, ctx, view);
                    bench.attention("llama3.1-8b", 32, 8, ctx, view);
                }
            }
            Files.writeString(out, "{\n \"device\": \"" + context.deviceName() + "\",\n \"rows\": [\n  "
                    + String.join(",\n  ", bench.rows) + "\n ]\n}\n");
            System.out.println("wrote " + out);
        }
    }

    private void attention(String model, int nHeads, int nKvHeads, int ctx, QuantizedDecodeAttention.View view) {
        int quantized = ctx - BUFFERED;
        QuantizedKvLayout layout = new QuantizedKvLayout(nKvHeads, 128, quantized, 128, 128, BUFFERED);
        long layerBytes = 4 * layout.planeBytes() + layout.keyParamsBytes() + layout.valueParamsBytes() + 2 * layout.bufferBytes();
        int copies = (int) Math.max(2, (ROTATION_BYTES + layerBytes - 1) / layerBytes);
        List<DeviceQuantizedKv> layers = new ArrayList<>();
        int rowsQ = view.queries * nHeads;
        try (DeviceBuffer q = context.allocate("q", rowsQ * 128L * 4); DeviceBuffer o = context.allocate("out", rowsQ * 128L * 4);
             DeviceBuffer header = context.allocate("pass header", (4L + view.queries) * 4)) {
            q.upload(randomFloats(rowsQ * 128, 1f));
            // the pass header of the last `queries` buffered rows: pos0, quantized, bufRow0, -, tokens
            int bufRow0 = BUFFERED - view.queries;
            int[] h = new int[4 + view.queries];
            h[0] = quantized + bufRow0;
            h[1] = quantized;
            h[2] = bufRow0;
            header.upload(h);
            for (int i = 0; i < copies; i++) {
                DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
                layers.add(kv);
                if (i == 0) {
                    for (DeviceBuffer plane : new DeviceBuffer[] {kv.keyUpper, kv.keyLower, kv.valueUpper, kv.valueLower}) {
                        fill(plane, n -> randomInts(n));
                    }
                    // scales of a [-2, 2] spread and its minimum, as the quantizer would write them
                    fill(kv.keyParams, n -> params(n));
                    fill(kv.valueParams, n -> params(n));
                    fill(kv.bufferKeys, n -> randomHalves(n));
                    fill(kv.bufferValues, n -> randomHalves(n));
                } else {
                    copyLayer(layers.get(0), kv);
                }
            }
            int group = nHeads / nKvHeads;
            QuantizedDecodeAttention.Tuning byDefault = QuantizedDecodeAttention.defaultTuning(view, layout, group);
            QuantizedDecodeAttention.Tuning previous = QuantizedDecodeAttention.legacyDefault(view, layout, group);
            for (QuantizedDecodeAttention.Tuning tuning : QuantizedDecodeAttention.compiled(view, group, 128)) {
                if (!QuantizedDecodeAttention.fits(tuning, layout)) continue;
                if (view == QuantizedDecodeAttention.View.VERIFY && !(tuning.version() == 1
                        || (tuning.version() == 6 && !tuning.mma().prefetch()) || tuning.equals(byDefault))) {
                    continue;
                }
                if (view == QuantizedDecodeAttention.View.DRAFT && !tuning.equals(byDefault) && !tuning.equals(previous)) {
                    continue;  // the draft: only the default and the previous default (keeps the run short)
                }
                try (QuantizedDecodeAttention attention = new QuantizedDecodeAttention(context, view, nHeads, layout, tuning, 0)) {
                    int[] next = {0};
                    time(model, ctx, rowsQ, view, attention, "host", tuning.equals(byDefault), attention.split(quantized),
                            () -> attention.run(q, layers.get(next[0]++ % copies), o, quantized, BUFFERED));
                    if (tuning.equals(byDefault)) {
                        // graph mode, as CudaQuantSpecModel launches it: every split chunk of maxChunks, lengths on the device
                        time(model, ctx, rowsQ, view, attention, "header", true,
                                new QuantizedDecodeAttention.Split(attention.split(quantized).chunkLen(), attention.maxChunks()),
                                () -> attention.runAtHeader(q, nHeads * 128, layers.get(next[0]++ % copies), o, header,
                                        view.queries, 0));
                    }
                }
            }
        } finally {
            layers.forEach(DeviceQuantizedKv::close);
        }
    }

    private void time(String model, int ctx, int rowsQ, QuantizedDecodeAttention.View view, QuantizedDecodeAttention attention,
                      String mode, boolean isDefault, QuantizedDecodeAttention.Split split, Runnable one) {
        int quantized = ctx - BUFFERED;
        double us = timeGraph(one);
        long bytes = attention.bytesRead(quantized, BUFFERED) + rowsQ * 128L * 4;
        double gbps = bytes / (us * 1e3);
        String kernel = mode.equals("header") ? attention.graphKernelName() : attention.kernelName();
        System.out.printf(Locale.ROOT, "%-6s %-12s ctx %6d  %-40s %-6s %-15s%s %4d chunks of %5d  %8.1f us  %7.0f GB/s  %5.1f%% of 4262%n",
                view, model, ctx, kernel, mode, attention.tuning(), isDefault ? "*" : " ", split.chunks(), split.chunkLen(),
                us, gbps, 100 * gbps / CudaKernelBenchmark.REFERENCE_GBPS);
        rows.add(String.format(Locale.ROOT, "{\"view\": \"%s\", \"model\": \"%s\", \"ctx\": %d, \"queries\": %d, "
                        + "\"kernel\": \"%s\", \"tuning\": \"%s\", \"version\": %d, \"mode\": \"%s\", \"default\": %b, "
                        + "\"chunks\": %d, \"chunkLen\": %d, \"us\": %.2f, \"bytes\": %d, \"GBps\": %.1f, \"fraction_of_4262\": %.4f}",
                view, model, ctx, view.queries, kernel, attention.tuning(), attention.tuning().version(), mode, isDefault,
                split.chunks(), split.chunkLen(), us, bytes, gbps, gbps / CudaKernelBenchmark.REFERENCE_GBPS));
    }

    private void copyLayer(DeviceQuantizedKv from, DeviceQuantizedKv to) {
        DeviceBuffer[] a = {from.keyUpper, from.keyLower, from.valueUpper, from.valueLower, from.keyParams, from.valueParams,
                from.bufferKeys, from.bufferValues};
        DeviceBuffer[] b = {to.keyUpper, to.keyLower, to.valueUpper, to.valueLower, to.keyParams, to.valueParams,
                to.bufferKeys, to.bufferValues};
        for (int i = 0; i < a.length; i++) context.copy(a[i], b[i], a[i].bytes());
        context.synchronize();
    }

    /** Median microseconds per call over 7 graph replays of 20 calls (after warm-up). */
    private double timeGraph(Runnable one) {
        for (int i = 0; i < 3; i++) one.run();
        context.synchronize();
        try (CudaContext.Graph g = context.captureGraph(() -> {
            for (int i = 0; i < PER_BATCH; i++) one.run();
        })) {
            g.launch();
            context.synchronize();
            double[] t = new double[BATCHES];
            for (int b = 0; b < BATCHES; b++) {
                try (CudaContext.Event start = context.recordEvent()) {
                    g.launch();
                    try (CudaContext.Event end = context.recordEvent()) {
                        t[b] = end.millisSince(start) * 1000.0 / PER_BATCH;
                    }
                }
            }
            Arrays.sort(t);
            return t[BATCHES / 2];
        }
    }

    /** A random 8 MB tile (int words) uploaded once and replicated across the buffer on the device. */
    private void fill(DeviceBuffer buffer, java.util.function.IntFunction<int[]> words) {
        long tile = Math.min(buffer.bytes(), 8L << 20) & ~7L;
        try (DeviceBuffer first = buffer.view(buffer.name() + " tile", 0, tile)) {
            first.upload(words.apply((int) (tile / 4)));
        }
        for (long off = tile; off < buffer.bytes(); off += tile) {
            long len = Math.min(tile, buffer.bytes() - off);
            try (DeviceBuffer dst = buffer.view(buffer.name() + " @" + off, off, len);
                 DeviceBuffer src = buffer.view(buffer.name() + " tile", 0, len)) {
                context.copy(src, dst, len);
            }
        }
        context.synchronize();
    }

    private int[] randomInts(int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = random.nextInt();
        return v;
    }

    /** half2 (scale, min) words: scale in [0.2, 0.3), min in [-2, -1.9). */
    private int[] params(int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            int scale = HalfFloats.floatToHalf((float) (0.2 + 0.1 * random.nextDouble())) & 0xffff;
            int min = HalfFloats.floatToHalf((float) (-2 + 0.1 * random.nextDouble())) & 0xffff;
            v[i] = scale | (min << 16);
        }
        return v;
    }

    private int[] randomHalves(int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            int lo = HalfFloats.floatToHalf((float) (random.nextDouble() * 4 - 2)) & 0xffff;
            int hi = HalfFloats.floatToHalf((float) (random.nextDouble() * 4 - 2)) & 0xffff;
            v[i] = lo | (hi << 16);
        }
        return v;
    }

    private float[] randomFloats(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * scale;
        return v;
    }
}
