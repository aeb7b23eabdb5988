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
 * Times the two kernels that carry a decode step's bytes, at the Llama-2-7B and Llama-3.1-8B
 * shapes: the bf16 GEMV (every projection and the LM head) and decode attention over an fp16 KV
 * cache. Reports microseconds, GB/s and the fraction of the copy bandwidth measured in the same run
 * and of the reference 4262 GB/s (GPU.md). Writes JSON to the path given as the first argument.
 *
 * <p>Method (METHOD.md): random data (never zeros); enough copies of every operand that a timed
 * sequence streams at least 512 MB, so the 60 MB L2 cannot serve repeats; warm-up first; the
 * median of 7 batches; each batch timed with GPU events, both as back-to-back launches from Java
 * and replayed from a CUDA graph (which removes the per-launch cost of the JNI call).
 */
public final class CudaKernelBenchmark {
    static final double REFERENCE_GBPS = 4262.0;
    private static final long ROTATION_BYTES = 512L << 20;
    private static final int BATCHES = 7;
    private static final int PER_BATCH = 20;

    private final CudaContext context;
    private final CudaKernels kernels;
    private final SplittableRandom random = new SplittableRandom(42);
    private final List<String> rows = new ArrayList<>();  // JSON objects, one per measurement
    private double copyGbps = Double.NaN;

    private CudaKernelBenchmark(CudaContext context) {
        this.context = context;
        this.kernels = new CudaKernels(context);
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "kernel-bench.json");
        CudaRuntime runtime = CudaRuntime.get();
        try (CudaContext context = runtime.open(0)) {
            CudaKernelBenchmark bench = new CudaKernelBenchmark(context);
            System.out.printf(Locale.ROOT, "device %s, %d SMs, CUDA driver %d%n", context.deviceName(),
                    context.multiprocessorCount(), runtime.driverVersion());
            bench.copyBandwidth();
            for (int[] shape : new int[][] {
                    {4096, 4096}, {12288, 4096}, {11008, 4096}, {22016, 4096}, {4096, 11008}, {32000, 4096},
                    {6144, 4096}, {14336, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}}) {
                for (CudaKernels.GemvVariant variant : CudaKernels.GemvVariant.values()) {
                    bench.gemv(variant, shape[0], shape[1]);
                }
            }
            DecodeAttention.Tuning[] tunings = {
                    DecodeAttention.Tuning.DEFAULT, new DecodeAttention.Tuning(2, 4, 64),
                    new DecodeAttention.Tuning(1, 8, 64), new DecodeAttention.Tuning(2, 8, 64)};
            for (int ctx : new int[] {8192, 32768, 131072}) {
                for (DecodeAttention.Tuning tuning : tunings) {
                    bench.attention("llama2-7b", 32, 32, ctx, tuning);
                    bench.attention("llama3.1-8b", 32, 8, ctx, tuning);
                }
            }
            String json = "{\n \"device\": \"" + context.deviceName() + "\",\n \"sms\": " + context.multiprocessorCount()
                    + ",\n \"copy_GBps\": " + fmt(bench.copyGbps) + ",\n \"reference_GBps\": " + REFERENCE_GBPS
                    + ",\n \"kernels\": [\n  " + String.join(",\n  ", bench.rows) + "\n ]\n}\n";
            Files.writeString(out, json);
            System.out.println("wrote " + out);
        }
    }

    /** Device-to-device copy of 1 GiB, bytes read + written: the same ceiling as GPU.md's 4262 GB/s. */
    private void copyBandwidth() {
        long bytes = 1L << 30;
        try (DeviceBuffer a = context.allocate("copy source", bytes); DeviceBuffer b = context.allocate("copy target", bytes)) {
            fillRandomBf16(a, 1.0f);
            double[] micros = time(() -> context.copy(a, b, bytes), 5, false);
            copyGbps = 2.0 * bytes / (micros[0] * 1e3);
            System.out.printf(Locale.ROOT, "copy 1 GiB: %.1f us, %.0f GB/s (read + write)%n", micros[0], copyGbps);
        }
    }

    private void gemv(CudaKernels.GemvVariant variant, int rows, int cols) {
        long bytes = (long) rows * cols * 2;
        int copies = (int) Math.max(2, (ROTATION_BYTES + bytes - 1) / bytes);
        List<DeviceBuffer> weights = new ArrayList<>();
        try (DeviceBuffer x = context.allocate("gemv x", cols * 4L); DeviceBuffer y = context.allocate("gemv y", rows * 4L)) {
            x.upload(randomFloats(cols, 1.0f));
            for (int i = 0; i < copies; i++) {
                DeviceBuffer w = context.allocate("gemv W copy " + i, bytes);
                weights.add(w);
                if (i == 0) fillRandomBf16(w, 0.02f); else context.copy(weights.get(0), w, bytes);
            }
            int[] next = {0};
            Runnable one = () -> kernels.gemvBf16(variant, weights.get(next[0]++ % copies), x, y, rows, cols);
            double[] micros = time(one, PER_BATCH, true);
            record("gemv_bf16", variant.name(), "W[" + rows + "][" + cols + "]", bytes + rows * 4L + cols * 4L, micros);
        } finally {
            weights.forEach(DeviceBuffer::close);
        }
    }

    private void attention(String model, int nHeads, int nKvHeads, int ctx, DecodeAttention.Tuning tuning) {
        int headDim = 128;
        long cacheBytes = (long) nKvHeads * ctx * headDim * 2;  // one of K or V for one layer
        int copies = (int) Math.max(2, (ROTATION_BYTES + 2 * cacheBytes - 1) / (2 * cacheBytes));
        List<DeviceBuffer> caches = new ArrayList<>();
        try (DecodeAttention attention = new DecodeAttention(context, nHeads, nKvHeads, headDim, tuning);
             DeviceBuffer q = context.allocate("attention q", nHeads * headDim * 4L);
             DeviceBuffer o = context.allocate("attention out", nHeads * headDim * 4L)) {
            q.upload(randomFloats(nHeads * headDim, 1.0f));
            for (int i = 0; i < 2 * copies; i++) {
                DeviceBuffer c = context.allocate("kv cache " + i + " f16[" + nKvHeads + "][" + ctx + "][128]", cacheBytes);
                caches.add(c);
                if (i == 0) fillRandomHalf(c); else context.copy(caches.get(0), c, cacheBytes);
            }
            int[] next = {0};
            Runnable one = () -> {
                int layer = next[0]++ % copies;
                attention.run(q, caches.get(2 * layer), caches.get(2 * layer + 1), o, ctx, ctx);
            };
            double[] micros = time(one, PER_BATCH, true);
            DecodeAttention.Split split = attention.split(ctx);
            record("decode_attention", model + " w" + tuning.waves() + " u" + tuning.unroll() + " min" + tuning.minChunkLen(),
                    nHeads + "q/" + nKvHeads + "kv x128 ctx " + ctx + " (" + split.numChunks() + " chunks of " + split.chunkLen() + ")",
                    2 * cacheBytes, micros);
        } finally {
            caches.forEach(DeviceBuffer::close);
        }
    }

    /** {median per call with stream launches, median per call replaying a graph (NaN if not asked or it failed)}. */
    private double[] time(Runnable one, int perBatch, boolean withGraph) {
        for (int i = 0; i < 3; i++) one.run();
        context.synchronize();
        double stream = medianMicros(() -> {
            for (int i = 0; i < perBatch; i++) one.run();
        }, perBatch);
        double graph = Double.NaN;
        if (withGraph) {
            try (CudaContext.Graph g = context.captureGraph(() -> {
                for (int i = 0; i < perBatch; i++) one.run();
            })) {
                g.launch();
                context.synchronize();
                graph = medianMicros(g::launch, perBatch);
            } catch (RuntimeException e) {
                System.out.println("graph timing failed: " + e.getMessage());
            }
        }
        return new double[] {stream, graph};
    }

    private double medianMicros(Runnable batch, int perBatch) {
        double[] t = new double[BATCHES];
        for (int b = 0; b < BATCHES; b++) {
            try (CudaContext.Event start = context.recordEvent()) {
                batch.run();
                try (CudaContext.Event end = context.recordEvent()) {
                    t[b] = end.millisSince(start) * 1000.0 / perBatch;
                }
            }
        }
        Arrays.sort(t);
        return t[BATCHES / 2];
    }

    private void record(String kernel, String variant, String shape, long bytes, double[] micros) {
        double best = Double.isNaN(micros[1]) ? micros[0] : Math.min(micros[0], micros[1]);
        double gbps = bytes / (best * 1e3);
        System.out.printf(Locale.ROOT, "%-16s %-22s %-58s stream %8.1f us  graph %8.1f us  %7.0f GB/s  %5.1f%% of 4262  %5.1f%% of copy%n",
                kernel, variant, shape, micros[0], micros[1], gbps, 100 * gbps / REFERENCE_GBPS, 100 * gbps / copyGbps);
        rows.add("{\"kernel\": \"" + kernel + "\", \"variant\": \"" + variant + "\", \"shape\": \"" + shape
                + "\", \"bytes\": " + bytes + ", \"stream_us\": " + fmt(micros[0]) + ", \"graph_us\": " + fmt(micros[1])
                + ", \"GBps\": " + fmt(gbps) + ", \"fraction_of_4262\": " + fmt(gbps / REFERENCE_GBPS)
                + ", \"fraction_of_copy\": " + fmt(gbps / copyGbps) + "}");
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.4f", v);
    }

    private float[] randomFloats(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * scale;
        return v;
    }

    /** Random bf16 in [-scale, scale]: 32 MB uploaded once, then replicated on the device. */
    private void fillRandomBf16(DeviceBuffer buffer, float scale) {
        fillReplicated(buffer, n -> {
            short[] s = new short[n];
            for (int i = 0; i < n; i++) s[i] = HalfFloats.floatToBf16((float) (random.nextDouble() * 2 - 1) * scale);
            return s;
        });
    }

    /** Random fp16 in [-2, 2] (the spread of real keys and values after RoPE is similar). */
    private void fillRandomHalf(DeviceBuffer buffer) {
        fillReplicated(buffer, n -> {
            short[] s = new short[n];
            for (int i = 0; i < n; i++) s[i] = HalfFloats.floatToHalf((float) (random.nextDouble() * 4 - 2));
            return s;
        });
    }

    private void fillReplicated(DeviceBuffer buffer, java.util.function.IntFunction<short[]> values) {
        long tile = Math.min(buffer.bytes(), 32L << 20) & ~1L;
        short[] host = values.apply((int) (tile / 2));
        try (DeviceBuffer first = buffer.view(buffer.name() + " tile", 0, tile)) {
            first.upload(host);
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
}
