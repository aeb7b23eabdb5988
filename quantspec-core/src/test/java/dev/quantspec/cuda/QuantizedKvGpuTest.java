package dev.quantspec.cuda;

import dev.quantspec.QuantSpecException;
import dev.quantspec.quant.NibblePlane;
import dev.quantspec.quant.ResidualQuantizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The quantized-KV kernels against the CPU: the quantize-and-pack kernels byte for byte and bit for
 * bit against {@link ResidualQuantizer} in the {@code HierarchicalKvCache} layout, and the draft
 * (INT4) and verification (INT8, 5 causal queries) attention against a scalar reference that
 * dequantizes with {@link ResidualQuantizer#dequant4}/{@link ResidualQuantizer#dequant8} and
 * attends in double. Runs only on a GPU host: scripts/gpu-run-quantkv.sh.
 */
@Tag("gpu")
class QuantizedKvGpuTest {
    private static CudaContext context;
    private final SplittableRandom random = new SplittableRandom();

    @BeforeAll
    static void openDevice() {
        context = CudaRuntime.get().open(0);
        context.setCheckEveryLaunch(true);
    }

    @AfterAll
    static void closeDevice() {
        if (context != null) context.close();
    }

    // ---------------------------------------------------------------- quantize-and-pack

    @ParameterizedTest(name = "{0} kv heads x {1}, G {2}, value group {3}, {4}, group index {5}")
    @CsvSource({
            "1, 128, 128, 128, F32, 0", "8, 128, 128, 128, F32, 3", "2, 128, 64, 64, F32, 1", "3, 64, 64, 64, F32, 2",
            "4, 64, 128, 32, F32, 0", "8, 128, 128, 128, F16, 1", "2, 64, 64, 16, F16, 0"})
    void should_pack_codes_and_params_bit_identical_to_the_cpu_quantizer(int kvHeads, int headDim, int g, int vg,
                                                                         DeviceKvQuantizer.Source type, int groupIndex) {
        // given G tokens of keys and values (stride kvDim + 3: the buffer may be wider than the heads)
        // with the awkward cases planted: a constant channel, signed zeros, a tiny range, exact ties
        int capacity = g * (groupIndex + 2);
        int stride = kvHeads * headDim + 3;
        float[] keys = awkwardRows(g, stride, headDim, type);
        float[] values = awkwardRows(g, stride, headDim, type);
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, headDim, capacity, g, vg, 8);
        int first = groupIndex * g;

        // the CPU oracle, indexed exactly as HierarchicalKvCache.flushOldestGroups indexes it
        long nibbles = (long) kvHeads * capacity * headDim;
        NibblePlane ku = new NibblePlane(nibbles), kl = new NibblePlane(nibbles);
        NibblePlane vu = new NibblePlane(nibbles), vl = new NibblePlane(nibbles);
        float[] kp = new float[kvHeads * layout.maxGroups() * headDim * 2];
        float[] vp = new float[kvHeads * capacity * layout.valueGroups() * 2];
        float[] two = new float[2];
        for (int h = 0; h < kvHeads; h++) {
            long tokenBase = (long) (h * capacity + first) * headDim;
            for (int c = 0; c < headDim; c++) {
                ResidualQuantizer.quantizeGroup(keys, h * headDim + c, stride, g, ku, kl, tokenBase + c, headDim, two, 0);
                int p = ((h * layout.maxGroups() + groupIndex) * headDim + c) * 2;
                kp[p] = two[0];
                kp[p + 1] = two[1];
            }
            for (int t = 0; t < g; t++) {
                for (int j = 0; j < layout.valueGroups(); j++) {
                    ResidualQuantizer.quantizeGroup(values, t * stride + h * headDim + j * vg, 1, vg, vu, vl,
                            tokenBase + (long) t * headDim + j * vg, 1, two, 0);
                    int p = ((h * capacity + first + t) * layout.valueGroups() + j) * 2;
                    vp[p] = two[0];
                    vp[p + 1] = two[1];
                }
            }
        }

        try (DeviceQuantizedKv kv = zeroed(layout); DeviceBuffer dKeys = uploadAs("keys", keys, type);
             DeviceBuffer dValues = uploadAs("values", values, type); DeviceBuffer status = context.allocate("status", 4)) {
            status.fill((byte) 0);
            DeviceKvQuantizer quantizer = new DeviceKvQuantizer(context);
            // when
            quantizer.quantizeKeys(dKeys, type, stride, kv, first, status);
            quantizer.quantizeValues(dValues, type, stride, kv, first, g, status);

            // then every byte of the four planes and every bit of the params equal the CPU's
            assertThat(status.downloadInts(1)[0]).as("status").isZero();
            assertThat(bytes(kv.keyUpper)).as("key upper plane").isEqualTo(ku.bytes());
            assertThat(bytes(kv.keyLower)).as("key lower plane").isEqualTo(kl.bytes());
            assertThat(bytes(kv.valueUpper)).as("value upper plane").isEqualTo(vu.bytes());
            assertThat(bytes(kv.valueLower)).as("value lower plane").isEqualTo(vl.bytes());
            assertThat(kv.keyParams.downloadShorts(kp.length)).as("key params").containsExactly(GpuTestData.halves(kp));
            assertThat(kv.valueParams.downloadShorts(vp.length)).as("value params").containsExactly(GpuTestData.halves(vp));
        }
    }

    @ParameterizedTest(name = "key {0}")
    @CsvSource({"NaN", "-70000", "1e30"})
    void should_flag_a_group_it_cannot_store_instead_of_packing_it(float bad) {
        // given one value that is NaN, below the half range (its group's minimum cannot be an fp16 -inf-rounded
        // half), or so far above the others that the group's scale passes 65504
        QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 128, 64, 64, 8);
        float[] keys = randomFloats(64 * 128, 1f);
        keys[5 * 128 + 70] = bad;
        try (DeviceQuantizedKv kv = zeroed(layout); DeviceBuffer dKeys = uploadAs("keys", keys, DeviceKvQuantizer.Source.F32);
             DeviceBuffer status = context.allocate("status", 4)) {
            status.fill((byte) 0);
            // when
            new DeviceKvQuantizer(context).quantizeKeys(dKeys, DeviceKvQuantizer.Source.F32, 128, kv, 64, status);
            // then
            assertThatThrownBy(() -> DeviceKvQuantizer.checkStatus(status, "layer 3 keys"))
                    .isInstanceOf(QuantSpecException.class).hasMessageContaining("layer 3 keys")
                    .hasMessageContaining("fp16");
            assertThat(status.downloadInts(1)[0]).as("flag reset").isZero();
        }
    }

    @Test
    void should_store_a_group_at_the_edge_of_the_half_range() {
        // given a key channel whose minimum is -65504 (a half) and whose scale is just below 65504
        QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 128, 64, 64, 8);
        float[] keys = randomFloats(64 * 128, 1f);
        keys[5 * 128 + 70] = -65504f;
        keys[9 * 128 + 70] = -65504f + 15 * 65000f;
        try (DeviceQuantizedKv kv = zeroed(layout); DeviceBuffer dKeys = uploadAs("keys", keys, DeviceKvQuantizer.Source.F32);
             DeviceBuffer status = context.allocate("status", 4)) {
            status.fill((byte) 0);
            // when
            new DeviceKvQuantizer(context).quantizeKeys(dKeys, DeviceKvQuantizer.Source.F32, 128, kv, 64, status);
            // then it is packed, no flag
            assertThat(status.downloadInts(1)[0]).as("status").isZero();
        }
    }

    // ---------------------------------------------------------------- attention

    @ParameterizedTest(name = "{0} {1}q/{2}kv x{3}, G {4}, vg {5}, {6} quantized + {7} buffered, max chunks {8}")
    @CsvSource({
            "DRAFT, 32, 32, 128, 128, 128, 1280, 133, 0", "DRAFT, 32, 8, 128, 128, 128, 3072, 261, 0",
            "DRAFT, 8, 2, 128, 64, 64, 4160, 7, 0", "DRAFT, 4, 4, 64, 64, 64, 640, 129, 0", "DRAFT, 8, 2, 64, 128, 32, 256, 1, 0",
            "DRAFT, 32, 8, 128, 128, 128, 0, 77, 0", "DRAFT, 2, 2, 128, 128, 128, 20480, 200, 0",
            "DRAFT, 2, 2, 128, 128, 128, 20480, 200, 3", "DRAFT, 8, 2, 128, 64, 64, 8192, 70, 2",
            "VERIFY, 32, 32, 128, 128, 128, 1280, 133, 0", "VERIFY, 32, 8, 128, 128, 128, 3072, 261, 0",
            "VERIFY, 8, 2, 128, 64, 64, 4160, 5, 0", "VERIFY, 4, 4, 64, 64, 64, 640, 129, 0", "VERIFY, 8, 2, 64, 128, 32, 256, 6, 0",
            "VERIFY, 32, 8, 128, 128, 128, 0, 77, 0", "VERIFY, 2, 2, 128, 128, 128, 20480, 200, 0",
            "VERIFY, 2, 2, 128, 128, 128, 20480, 200, 3", "VERIFY, 8, 2, 128, 64, 64, 8192, 70, 2",
            // version 6 shapes beyond the ones above: GQA 2 and 4 at head dims 64 and 128, forced splits
            "VERIFY, 8, 4, 128, 128, 128, 2048, 37, 0", "VERIFY, 8, 2, 64, 64, 64, 1344, 100, 0",
            "VERIFY, 4, 2, 64, 64, 64, 1024, 9, 0", "VERIFY, 16, 4, 128, 128, 128, 4096, 20, 3",
            "VERIFY, 8, 8, 64, 128, 64, 2048, 261, 7", "VERIFY, 8, 4, 64, 128, 64, 3072, 64, 0",
            // version 7 (the draft on tensor cores) shapes beyond the ones above: GQA 2 and 4 at head dims 64 and
            // 128, G 64, forced splits of 1 / 3 / 7 / 64 chunks
            "DRAFT, 8, 4, 128, 128, 128, 2048, 37, 0", "DRAFT, 8, 4, 64, 64, 64, 1344, 100, 0",
            "DRAFT, 8, 2, 64, 64, 64, 1024, 9, 0", "DRAFT, 16, 4, 128, 128, 128, 4096, 20, 3",
            "DRAFT, 8, 8, 128, 64, 128, 2048, 261, 7", "DRAFT, 8, 4, 64, 128, 64, 3072, 64, 0",
            "DRAFT, 4, 4, 64, 64, 64, 8192, 5, 64", "DRAFT, 32, 8, 128, 128, 128, 1280, 1, 1"})
    void should_match_dequantize_then_attend_in_double(QuantizedDecodeAttention.View view, int nHeads, int nKvHeads,
                                                       int headDim, int g, int vg, int quantized, int bufLen,
                                                       int maxChunks) {
        // given random keys and values quantized on the CPU (capacity one group more than used, so
        // rows past the quantized part exist; they and the buffer rows past bufLen hold huge values
        // that would dominate the result if read), and an fp16 buffer
        int capacity = quantized + g;
        int bufCapacity = bufLen + 3;
        QuantizedKvLayout layout = new QuantizedKvLayout(nKvHeads, headDim, capacity, g, vg, bufCapacity);
        int kvDim = nKvHeads * headDim;
        float[] keys = randomFloats(capacity * kvDim, 2f);
        float[] values = randomFloats(capacity * kvDim, 2f);
        for (int i = quantized * kvDim; i < keys.length; i++) {
            keys[i] = 3e4f;
            values[i] = 3e4f;
        }
        long nibbles = (long) nKvHeads * capacity * headDim;
        NibblePlane ku = new NibblePlane(nibbles), kl = new NibblePlane(nibbles);
        NibblePlane vu = new NibblePlane(nibbles), vl = new NibblePlane(nibbles);
        float[] kp = new float[nKvHeads * layout.maxGroups() * headDim * 2];
        float[] vp = new float[nKvHeads * capacity * layout.valueGroups() * 2];
        float[] two = new float[2];
        for (int group = 0; group < capacity / g; group++) {
            for (int h = 0; h < nKvHeads; h++) {
                long tokenBase = (long) (h * capacity + group * g) * headDim;
                for (int c = 0; c < headDim; c++) {
                    ResidualQuantizer.quantizeGroup(keys, group * g * kvDim + h * headDim + c, kvDim, g, ku, kl,
                            tokenBase + c, headDim, two, 0);
                    int p = ((h * layout.maxGroups() + group) * headDim + c) * 2;
                    kp[p] = two[0];
                    kp[p + 1] = two[1];
                }
                for (int t = 0; t < g; t++) {
                    for (int j = 0; j < layout.valueGroups(); j++) {
                        ResidualQuantizer.quantizeGroup(values, (group * g + t) * kvDim + h * headDim + j * vg, 1, vg,
                                vu, vl, tokenBase + (long) t * headDim + j * vg, 1, two, 0);
                        int p = ((h * capacity + group * g + t) * layout.valueGroups() + j) * 2;
                        vp[p] = two[0];
                        vp[p + 1] = two[1];
                    }
                }
            }
        }
        short[] bufK = new short[nKvHeads * bufCapacity * headDim];
        short[] bufV = new short[bufK.length];
        for (int h = 0; h < nKvHeads; h++) {
            for (int t = 0; t < bufCapacity; t++) {
                for (int c = 0; c < headDim; c++) {
                    int i = (h * bufCapacity + t) * headDim + c;
                    boolean outside = t >= bufLen;
                    bufK[i] = HalfFloats.floatToHalf(outside ? 3e4f : (float) (random.nextDouble() * 4 - 2));
                    bufV[i] = HalfFloats.floatToHalf(outside ? 3e4f : (float) (random.nextDouble() * 4 - 2));
                }
            }
        }
        int queries = view.queries;
        float[] q = randomFloats(queries * nHeads * headDim, 1f);

        try (DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
             DeviceBuffer dQ = upload("q", q); DeviceBuffer out = poisoned("out", (long) queries * nHeads * headDim * 4)) {
            kv.keyUpper.upload(ku.bytes());
            kv.keyLower.upload(kl.bytes());
            kv.valueUpper.upload(vu.bytes());
            kv.valueLower.upload(vl.bytes());
            kv.keyParams.upload(GpuTestData.halves(kp));
            kv.valueParams.upload(GpuTestData.halves(vp));
            kv.bufferKeys.upload(bufK);
            kv.bufferValues.upload(bufV);
            // when: every compiled kernel version and tuning that fits this layout
            java.util.List<QuantizedDecodeAttention.Tuning> tunings = new java.util.ArrayList<>();
            java.util.List<float[]> outputs = new java.util.ArrayList<>();
            for (QuantizedDecodeAttention.Tuning tuning : QuantizedDecodeAttention.compiled(view, nHeads / nKvHeads, headDim)) {
                if (!QuantizedDecodeAttention.fits(tuning, layout)) continue;
                try (QuantizedDecodeAttention attention = new QuantizedDecodeAttention(context, view, nHeads, layout,
                        tuning, maxChunks)) {
                    out.fill((byte) 0xff);
                    attention.run(dQ, kv, out, quantized, bufLen);
                    tunings.add(tuning);
                    outputs.add(out.downloadFloats(queries * nHeads * headDim));
                }
            }
            assertThat(tunings).as("tunings run").hasSizeGreaterThanOrEqualTo(2).contains(QuantizedDecodeAttention.Tuning.SIMPLE);
            assertThat(tunings).as("tunings run include the default").contains(
                    QuantizedDecodeAttention.defaultTuning(view, layout, nHeads / nKvHeads));

            // then: scores carry ~1e-6 relative fp32 error (the folded offsets are 8-16x the code
            // range), so outputs, convex combinations of values in [-2, 2], are within ~1e-5 of
            // the reference; 1e-4 is safe, while a wrong code, param, mask or merge moves them by 0.01+.
            // Version 3 multiplies in fp16: products round by 2^-11 relative on folded values of up to
            // ~4 (1 + n/16 times 16 x scale), i.e. ~2e-3 per term at worst, averaging down over the
            // positions; 4e-3 bounds it and still sits below what a wrong code or merge does (H200
            // run 3, 2026-11-29: version 3 worst 5.0e-4 over all cases). Versions 6 and 7: see tolerance().
            double[] worstError = new double[tunings.size()];
            boolean target = view == QuantizedDecodeAttention.View.VERIFY;
            double scale = 1.0 / Math.sqrt(headDim);
            int group = nHeads / nKvHeads;
            for (int qi = 0; qi < queries; qi++) {
                int visibleBuffer = bufLen - queries + qi + 1;
                for (int head = 0; head < nHeads; head++) {
                    int h = head / group;
                    int n = quantized + visibleBuffer;
                    double[] scores = new double[n];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t = 0; t < n; t++) {
                        double s = 0;
                        for (int c = 0; c < headDim; c++) {
                            s += (double) q[(qi * nHeads + head) * headDim + c] * keyAt(h, t, c, quantized, layout,
                                    ku, kl, kp, bufK, target);
                        }
                        scores[t] = s * scale;
                        max = Math.max(max, scores[t]);
                    }
                    double denom = 0;
                    for (int t = 0; t < n; t++) denom += Math.exp(scores[t] - max);
                    for (int c = 0; c < headDim; c++) {
                        double ref = 0;
                        for (int t = 0; t < n; t++) {
                            ref += Math.exp(scores[t] - max) * valueAt(h, t, c, quantized, layout, vu, vl, vp, bufV, target);
                        }
                        ref /= denom;
                        for (int k = 0; k < tunings.size(); k++) {
                            double got = outputs.get(k)[(qi * nHeads + head) * headDim + c];
                            worstError[k] = Math.max(worstError[k], Math.abs(got - ref));
                            assertThat(got)
                                    .as("%s: query %d head %d channel %d", tunings.get(k), qi, head, c)
                                    .isCloseTo(ref, within(tolerance(tunings.get(k))));
                        }
                    }
                }
            }
            for (int k = 0; k < tunings.size(); k++) {
                System.out.printf(java.util.Locale.ROOT, "%s %dq/%dkv hd %d: %s worst |out - ref| %.2e%n", view, nHeads,
                        nKvHeads, headDim, tunings.get(k), worstError[k]);
            }
        }
    }

    @Test
    void should_cut_long_contexts_into_whole_key_groups_for_every_multiprocessor() {
        // given the Llama-3.1-8B layer with G = 128
        QuantizedKvLayout layout = new QuantizedKvLayout(8, 128, 262144, 128, 128, 261);
        try (QuantizedDecodeAttention attention = new QuantizedDecodeAttention(context, QuantizedDecodeAttention.View.DRAFT,
                32, layout)) {
            // when
            QuantizedDecodeAttention.Split split = attention.split(262144 - 256);
            // then
            assertThat(split.chunkLen() % 128).isZero();
            assertThat((long) split.chunks() * split.chunkLen()).isGreaterThanOrEqualTo(262144 - 256);
            assertThat(split.chunks() * 8).isGreaterThanOrEqualTo(context.multiprocessorCount());
            assertThat(attention.split(0).chunks()).isZero();
        }
    }

    // ---------------------------------------------------------------- graph mode: lengths from a device pass header

    @ParameterizedTest(name = "{0} {1}q/{2}kv x{3}, G {4}, vg {5}, {6} quantized, pass rows {7}..+{8}, max chunks {9}")
    @CsvSource({
            "VERIFY, 4, 2, 64, 64, 64, 640, 70, 5, 0", "VERIFY, 8, 4, 64, 128, 64, 2048, 130, 5, 0",
            "VERIFY, 32, 32, 128, 128, 128, 1280, 128, 5, 0", "VERIFY, 32, 8, 128, 128, 128, 3072, 200, 4, 0",
            "VERIFY, 8, 2, 128, 64, 64, 0, 0, 5, 0", "VERIFY, 4, 2, 64, 64, 64, 8192, 3, 3, 3",
            "VERIFY, 4, 4, 64, 64, 32, 256, 9, 5, 7", "VERIFY, 2, 2, 128, 128, 128, 20480, 200, 2, 0",
            // version 6 shapes beyond the ones above: MHA and GQA 2/4 at head dims 64 and 128, forced splits
            "VERIFY, 8, 2, 64, 64, 64, 1344, 100, 5, 0", "VERIFY, 8, 4, 128, 128, 128, 2048, 37, 5, 0",
            "VERIFY, 16, 4, 128, 128, 128, 4096, 20, 5, 3", "VERIFY, 4, 4, 64, 64, 64, 1280, 64, 5, 0",
            "VERIFY, 4, 4, 128, 128, 128, 0, 11, 5, 0", "VERIFY, 8, 2, 128, 128, 128, 1024, 255, 5, 9",
            "DRAFT, 4, 2, 64, 64, 64, 640, 70, 5, 0", "DRAFT, 8, 4, 64, 128, 64, 2048, 130, 3, 0",
            "DRAFT, 32, 32, 128, 128, 128, 1280, 128, 2, 0", "DRAFT, 32, 8, 128, 128, 128, 3072, 200, 2, 0",
            "DRAFT, 8, 4, 64, 64, 64, 0, 0, 4, 0", "DRAFT, 2, 2, 128, 128, 128, 20480, 200, 2, 3",
            "DRAFT, 8, 2, 128, 64, 64, 256, 5, 2, 7",
            // version 7 shapes beyond the ones above: GQA 4 and MHA with forced splits, G 64 at head dim 128
            "DRAFT, 16, 4, 128, 128, 128, 4096, 20, 3, 3", "DRAFT, 8, 8, 64, 64, 64, 1280, 64, 3, 9",
            "DRAFT, 8, 4, 128, 64, 128, 1024, 255, 2, 0"})
    void should_attend_at_a_device_header_batch_invariantly(QuantizedDecodeAttention.View view, int nHeads,
                                                            int nKvHeads, int headDim, int g, int vg, int quantized,
                                                            int bufRow0, int n, int maxChunks) {
        // given a cache quantized on the CPU, a pass of n rows whose K/V are already in the buffer at rows
        // bufRow0 .. bufRow0 + n - 1 (rows past the pass and quantized rows past `quantized` hold 3e4, which
        // would dominate any output that read them), queries inside fused QKV rows (stride > nHeads x headDim)
        int bufCapacity = bufRow0 + n + 3;
        CpuCache c = new CpuCache(new QuantizedKvLayout(nKvHeads, headDim, quantized + g, g, vg, bufCapacity), quantized,
                bufRow0 + n);
        int qRowStride = (nHeads + 2 * nKvHeads) * headDim + 4;
        float[] q = randomFloats(n * qRowStride, 1f);
        int[] header = passHeader(quantized, bufRow0, n);
        int rowFloats = nHeads * headDim;
        boolean target = view == QuantizedDecodeAttention.View.VERIFY;

        try (DeviceQuantizedKv kv = c.upload(); DeviceBuffer dQ = upload("q", q);
             DeviceBuffer dHeader = context.allocate("header", header.length * 4L);
             DeviceBuffer out = poisoned("out", (long) n * rowFloats * 4);
             DeviceBuffer one = poisoned("one query out", (long) rowFloats * 4)) {
            dHeader.upload(header);
            java.util.List<QuantizedDecodeAttention.Tuning> run = new java.util.ArrayList<>();
            for (QuantizedDecodeAttention.Tuning tuning : QuantizedDecodeAttention.compiled(view, nHeads / nKvHeads, headDim)) {
                if (!QuantizedDecodeAttention.fits(tuning, c.layout)) continue;
                try (QuantizedDecodeAttention attention = new QuantizedDecodeAttention(context, view, nHeads, c.layout,
                        tuning, maxChunks)) {
                    run.add(tuning);
                    // when: the pass at once (verification) and every row alone (firstQuery = i)
                    float[][] alone = new float[n][];
                    for (int i = 0; i < n; i++) {
                        one.fill((byte) 0xff);
                        attention.runAtHeader(qRow(dQ, i, qRowStride), qRowStride, kv, one, dHeader, 1, i);
                        alone[i] = one.downloadFloats(rowFloats);
                    }
                    float[] whole = null;
                    if (target) {
                        out.fill((byte) 0xff);
                        attention.runAtHeader(dQ, qRowStride, kv, out, dHeader, n, 0);
                        whole = out.downloadFloats(n * rowFloats);
                    }

                    // then: batch-invariant to the bit (the pass, rows alone, and a middle slice of it); the draft
                    // (one query per launch): row i from pass row i equals row i launched as row 0 of a pass that
                    // starts i buffer rows later (the same visible rows [0, bufRow0 + i]), so a query's bits depend
                    // only on what it sees, not on where in a pass it is launched
                    if (!target) {
                        for (int i = 1; i < n; i++) {
                            int[] later = passHeader(quantized, bufRow0 + i, n - i);
                            try (DeviceBuffer laterHeader = context.allocate("later header", later.length * 4L)) {
                                laterHeader.upload(later);
                                one.fill((byte) 0xff);
                                attention.runAtHeader(qRow(dQ, i, qRowStride), qRowStride, kv, one, laterHeader, 1, 0);
                                assertThat(bits(one.downloadFloats(rowFloats)))
                                        .as("%s: draft row %d from pass row %d vs from a header %d rows later", tuning, i, i, i)
                                        .containsExactly(bits(alone[i]));
                            }
                        }
                    }
                    if (target) {
                        for (int i = 0; i < n; i++) {
                            assertThat(bits(java.util.Arrays.copyOfRange(whole, i * rowFloats, (i + 1) * rowFloats)))
                                    .as("%s: pass row %d in a pass of %d vs alone", tuning, i, n).containsExactly(bits(alone[i]));
                        }
                        if (n >= 3) {
                            out.fill((byte) 0xff);
                            attention.runAtHeader(qRow(dQ, 1, qRowStride), qRowStride, kv, out, dHeader, 2, 1);
                            float[] mid = out.downloadFloats(2 * rowFloats);
                            for (int i = 0; i < 2; i++) {
                                assertThat(bits(java.util.Arrays.copyOfRange(mid, i * rowFloats, (i + 1) * rowFloats)))
                                        .as("%s: pass row %d launched from row 1", tuning, i + 1).containsExactly(bits(alone[i + 1]));
                            }
                        }
                    }
                    // ... and each row equals dequantize-then-attend in double over what it may see
                    // (tolerances as in should_match_dequantize_then_attend_in_double)
                    double tol = tolerance(tuning);
                    for (int i = 0; i < n; i++) {
                        double[] ref = c.attend(q, i * qRowStride, nHeads, quantized + bufRow0 + i + 1, target);
                        for (int k = 0; k < rowFloats; k++) {
                            assertThat((double) alone[i][k]).as("%s: pass row %d, head %d channel %d", tuning, i,
                                    k / headDim, k % headDim).isCloseTo(ref[k], within(tol));
                        }
                    }

                    // and a captured graph, replayed after the header changed, gives what a direct launch gives
                    if (bufRow0 > 0 && quantized >= g) {
                        int[] other = passHeader(quantized - g, bufRow0 - 1, n);  // a shorter context
                        dHeader.upload(header);
                        int queries = target ? n : 1;
                        context.setCheckEveryLaunch(false);
                        try (CudaContext.Graph graph = context.captureGraph(
                                () -> attention.runAtHeader(dQ, qRowStride, kv, out, dHeader, queries, 0))) {
                            context.setCheckEveryLaunch(true);
                            dHeader.upload(other);
                            out.fill((byte) 0xff);
                            graph.launch();
                            context.synchronize();
                            float[] replayed = out.downloadFloats(queries * rowFloats);
                            out.fill((byte) 0xff);
                            attention.runAtHeader(dQ, qRowStride, kv, out, dHeader, queries, 0);
                            assertThat(bits(replayed)).as("%s: graph replay after a header change", tuning)
                                    .containsExactly(bits(out.downloadFloats(queries * rowFloats)));
                        } finally {
                            context.setCheckEveryLaunch(true);
                            dHeader.upload(header);
                        }
                    }
                }
            }
            assertThat(run).as("tunings run").contains(QuantizedDecodeAttention.Tuning.SIMPLE,
                    QuantizedDecodeAttention.defaultTuning(view, c.layout, nHeads / nKvHeads));
        }
    }

    @ParameterizedTest(name = "{0} version {1}")
    @CsvSource({"VERIFY, 6", "VERIFY, 1", "DRAFT, 7", "DRAFT, 1"})
    void should_refuse_pass_launches_the_kernel_cannot_serve(QuantizedDecodeAttention.View view, int version) {
        QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 256, 64, 64, 20);
        QuantizedDecodeAttention.Tuning tuning = version == 1 ? QuantizedDecodeAttention.Tuning.SIMPLE
                : QuantizedDecodeAttention.defaultTuning(view, layout, 2);
        assertThat(tuning.version()).isEqualTo(version);
        try (QuantizedDecodeAttention attention = new QuantizedDecodeAttention(context, view, 4, layout, tuning, 0);
             DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
             DeviceBuffer q = context.allocate("q", 6 * 256 * 4); DeviceBuffer out = context.allocate("out", 6 * 256 * 4);
             DeviceBuffer header = context.allocate("header", 40)) {
            int tooMany = attention.maxQueriesAtHeader() + 1;  // version 6 takes 8 per launch, the others their compiled count
            assertThatThrownBy(() -> attention.runAtHeader(q, 256, kv, out, header, tooMany, 0))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> attention.runAtHeader(q, 255, kv, out, header, view.queries, 0))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(attention.maxChunks()).isPositive();
        }
    }

    @ParameterizedTest(name = "{0} q / {1} kv heads x {2}, G {3}, value group {4}")
    @CsvSource({"32, 32, 128, 128, 128", "32, 8, 128, 128, 128", "32, 16, 128, 128, 128", "8, 2, 64, 64, 64",
            "8, 8, 64, 64, 64", "32, 32, 128, 128, 64", "32, 8, 128, 128, 64"})
    void should_split_version_7_into_whole_waves_and_keep_versions_1_and_3_selectable(int nHeads, int nKvHeads,
                                                                                      int headDim, int g, int vg) {
        // given a long-context layer
        QuantizedKvLayout layout = new QuantizedKvLayout(nKvHeads, headDim, 262144, g, vg, 261);
        int group = nHeads / nKvHeads;
        QuantizedDecodeAttention.View draft = QuantizedDecodeAttention.View.DRAFT;
        try (QuantizedDecodeAttention byDefault = new QuantizedDecodeAttention(context, draft, nHeads, layout);
             QuantizedDecodeAttention again = new QuantizedDecodeAttention(context, draft, nHeads, layout);
             QuantizedDecodeAttention v1 = new QuantizedDecodeAttention(context, draft, nHeads, layout,
                     QuantizedDecodeAttention.Tuning.SIMPLE, 0)) {
            // then: version 7 where it fits (value group == head dim), versions 3 / 1 otherwise and on request
            assertThat(v1.kernelName()).isEqualTo("qs_qattn_b4_h" + headDim + "_g" + group + "_p" + group + "_q1");
            assertThat(v1.graphKernelName()).isEqualTo(v1.kernelName());
            assertThat(again.maxChunks()).as("the split is a property of the layer shape").isEqualTo(byDefault.maxChunks());
            if (vg != headDim) {
                assertThat(byDefault.tuning().version()).isIn(1, 3);
                assertThat(byDefault.tuning()).isEqualTo(QuantizedDecodeAttention.legacyDefault(draft, layout, group));
                return;
            }
            QuantizedDecodeAttention.Tuning t = byDefault.tuning();
            assertThat(t).isEqualTo(QuantizedDecodeAttention.Tuning.draftMma(group, 2, false, 4));
            assertThat(byDefault.kernelName()).isEqualTo("qs_qattn7_b4_h" + headDim + "_g" + group + "_p" + group
                    + "_q1_t2_f0_b4");
            assertThat(byDefault.graphKernelName()).isEqualTo("qs_qattn7g_b4_h" + headDim + "_g" + group + "_p" + group
                    + "_t2_f0_b4");
            // ... and the quantized chunks plus the buffer chunk fill two waves of resident blocks (MHA) or one (GQA)
            int resident = context.multiprocessorCount() * Math.min(
                    context.maxActiveBlocksPerMultiprocessor(byDefault.kernelName(), QuantizedDecodeAttention.THREADS),
                    context.maxActiveBlocksPerMultiprocessor(byDefault.graphKernelName(), QuantizedDecodeAttention.THREADS));
            assertThat(resident).as("resident blocks").isGreaterThanOrEqualTo(context.multiprocessorCount()
                    * t.mma().minBlocks());
            int waves = group == 1 ? 2 : 1;
            assertThat(byDefault.maxChunks()).isEqualTo(Math.max(1, waves * (resident / nKvHeads) - 1));
            assertThat((byDefault.maxChunks() + 1) * nKvHeads).isLessThanOrEqualTo(Math.max(waves * resident, 2 * nKvHeads));
            QuantizedDecodeAttention.Split split = byDefault.split(262144 - 256);
            assertThat(split.chunks()).isLessThanOrEqualTo(byDefault.maxChunks());
            assertThat(split.chunkLen() % g).isZero();
            assertThat((long) split.chunks() * split.chunkLen()).isGreaterThanOrEqualTo(262144 - 256);
            System.out.printf(java.util.Locale.ROOT, "DRAFT %dq/%dkv hd %d: %s %s, %d resident blocks -> %d chunks;"
                            + " version 1 %d chunks%n", nHeads, nKvHeads, headDim, t, byDefault.kernelName(), resident,
                    byDefault.maxChunks(), v1.maxChunks());
        }
    }

    @ParameterizedTest(name = "{0} q / {1} kv heads x {2}, G {3}, value group {4}")
    @CsvSource({"32, 32, 128, 128, 128", "32, 8, 128, 128, 128", "32, 16, 128, 128, 128", "8, 2, 64, 64, 64",
            "32, 8, 128, 128, 64"})
    void should_split_version_6_into_one_wave_and_keep_version_1_selectable(int nHeads, int nKvHeads, int headDim, int g,
                                                                           int vg) {
        // given a long-context layer
        QuantizedKvLayout layout = new QuantizedKvLayout(nKvHeads, headDim, 262144, g, vg, 261);
        int group = nHeads / nKvHeads;
        QuantizedDecodeAttention.View verify = QuantizedDecodeAttention.View.VERIFY;
        try (QuantizedDecodeAttention byDefault = new QuantizedDecodeAttention(context, verify, nHeads, layout);
             QuantizedDecodeAttention v1 = new QuantizedDecodeAttention(context, verify, nHeads, layout,
                     QuantizedDecodeAttention.Tuning.SIMPLE, 0)) {
            // then: version 6 where it fits (value group == head dim), version 1 otherwise and on request
            assertThat(v1.kernelName()).isEqualTo("qs_qattn_b8_h" + headDim + "_g" + group + "_p1_q5");
            assertThat(v1.graphKernelName()).isEqualTo(v1.kernelName());
            if (vg != headDim) {
                assertThat(byDefault.tuning()).isEqualTo(QuantizedDecodeAttention.Tuning.SIMPLE);
                return;
            }
            QuantizedDecodeAttention.Tuning t = byDefault.tuning();
            assertThat(t.version()).isEqualTo(6);
            assertThat(byDefault.kernelName()).startsWith("qs_qattn6_b8_h" + headDim + "_g" + group + "_p");
            assertThat(byDefault.graphKernelName()).startsWith("qs_qattn6g_b8_h" + headDim + "_g" + group + "_p");
            // ... and the quantized chunks plus the buffer chunk fill one wave of resident blocks, no more
            int slices = group / t.mma().headsPerBlock();
            int resident = context.multiprocessorCount() * Math.min(
                    context.maxActiveBlocksPerMultiprocessor(byDefault.kernelName(), QuantizedDecodeAttention.THREADS),
                    context.maxActiveBlocksPerMultiprocessor(byDefault.graphKernelName(), QuantizedDecodeAttention.THREADS));
            assertThat(resident).as("resident blocks").isGreaterThanOrEqualTo(context.multiprocessorCount()
                    * t.mma().minBlocks());
            assertThat(byDefault.maxChunks()).isEqualTo(Math.max(1, resident / (nKvHeads * slices) - 1));
            assertThat((byDefault.maxChunks() + 1) * nKvHeads * slices).isLessThanOrEqualTo(Math.max(resident,
                    2 * nKvHeads * slices));
            QuantizedDecodeAttention.Split split = byDefault.split(262144 - 256);
            assertThat(split.chunks()).isLessThanOrEqualTo(byDefault.maxChunks());
            assertThat(split.chunkLen() % g).isZero();
            assertThat((long) split.chunks() * split.chunkLen()).isGreaterThanOrEqualTo(262144 - 256);
            System.out.printf(java.util.Locale.ROOT, "VERIFY %dq/%dkv hd %d: %s %s, %d resident blocks -> %d chunks;"
                            + " version 1 %d chunks%n", nHeads, nKvHeads, headDim, t, byDefault.kernelName(), resident,
                    byDefault.maxChunks(), v1.maxChunks());
        }
    }

    // ---------------------------------------------------------------- flush and prefill-split helpers

    @ParameterizedTest(name = "{0} kv heads x {1}, G {2}, value group {3}, {4} groups from group {5}")
    @CsvSource({"2, 64, 64, 64, 5, 1", "8, 128, 128, 128, 3, 0", "4, 64, 128, 32, 7, 2", "1, 128, 64, 16, 1, 3"})
    void should_quantize_many_groups_from_a_head_major_fp16_source_bit_identically(int kvHeads, int headDim, int g, int vg,
                                                                                  int groups, int firstGroup) {
        // given a head-major fp16 source [kvHeads][cap][headDim] (the prefill cache or the buffer)
        int tokens = groups * g;
        int cap = tokens + 5;
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, headDim, (firstGroup + groups + 1) * g, g, vg, 8);
        float[] keys = fp16Rounded(randomFloats(kvHeads * cap * headDim, 2f));
        float[] values = fp16Rounded(randomFloats(kvHeads * cap * headDim, 2f));
        keys[3] = 0.0f;  // a few awkward values in head 0, channel 3
        keys[headDim + 3] = -0.0f;
        int first = firstGroup * g;

        long nibbles = (long) kvHeads * layout.capacity() * headDim;
        NibblePlane ku = new NibblePlane(nibbles), kl = new NibblePlane(nibbles);
        NibblePlane vu = new NibblePlane(nibbles), vl = new NibblePlane(nibbles);
        float[] kp = new float[kvHeads * layout.maxGroups() * headDim * 2];
        float[] vp = new float[kvHeads * layout.capacity() * layout.valueGroups() * 2];
        float[] two = new float[2];
        for (int h = 0; h < kvHeads; h++) {
            for (int z = 0; z < groups; z++) {
                long tokenBase = (long) (h * layout.capacity() + first + z * g) * headDim;
                for (int ch = 0; ch < headDim; ch++) {
                    ResidualQuantizer.quantizeGroup(keys, (h * cap + z * g) * headDim + ch, headDim, g, ku, kl,
                            tokenBase + ch, headDim, two, 0);
                    int p = ((h * layout.maxGroups() + firstGroup + z) * headDim + ch) * 2;
                    kp[p] = two[0];
                    kp[p + 1] = two[1];
                }
            }
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < layout.valueGroups(); j++) {
                    ResidualQuantizer.quantizeGroup(values, (h * cap + t) * headDim + j * vg, 1, vg, vu, vl,
                            (long) (h * layout.capacity() + first + t) * headDim + j * vg, 1, two, 0);
                    int p = ((h * layout.capacity() + first + t) * layout.valueGroups() + j) * 2;
                    vp[p] = two[0];
                    vp[p + 1] = two[1];
                }
            }
        }
        try (DeviceQuantizedKv kv = zeroed(layout); DeviceBuffer dKeys = uploadAs("keys", keys, DeviceKvQuantizer.Source.F16);
             DeviceBuffer dValues = uploadAs("values", values, DeviceKvQuantizer.Source.F16);
             DeviceBuffer status = context.allocate("status", 4)) {
            status.fill((byte) 0);
            DeviceKvQuantizer quantizer = new DeviceKvQuantizer(context);
            // when: all groups in one launch each
            quantizer.quantizeKeys(dKeys, DeviceKvQuantizer.Source.F16, headDim, (long) cap * headDim, kv, first, groups, status);
            quantizer.quantizeValues(dValues, DeviceKvQuantizer.Source.F16, headDim, (long) cap * headDim, kv, first, tokens,
                    status);
            // then
            assertThat(status.downloadInts(1)[0]).as("status").isZero();
            assertThat(bytes(kv.keyUpper)).as("key upper plane").isEqualTo(ku.bytes());
            assertThat(bytes(kv.keyLower)).as("key lower plane").isEqualTo(kl.bytes());
            assertThat(bytes(kv.valueUpper)).as("value upper plane").isEqualTo(vu.bytes());
            assertThat(bytes(kv.valueLower)).as("value lower plane").isEqualTo(vl.bytes());
            assertThat(kv.keyParams.downloadShorts(kp.length)).as("key params").containsExactly(GpuTestData.halves(kp));
            assertThat(kv.valueParams.downloadShorts(vp.length)).as("value params").containsExactly(GpuTestData.halves(vp));
        }
    }

    @ParameterizedTest(name = "shift rows [{0}, {0} + {1}) to 0 in a buffer of {2}, {3} kv heads x {4}")
    @CsvSource({"128, 133, 261, 2, 64", "64, 30, 100, 8, 128", "1, 200, 201, 1, 64", "200, 5, 261, 4, 128",
            "3, 10, 20, 2, 64", "7, 0, 20, 2, 64"})
    void should_shift_buffer_rows_down_even_when_the_ranges_overlap(int from, int rows, int bufCapacity, int kvHeads,
                                                                   int headDim) {
        // given a buffer of distinct fp16 values
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, headDim, 128, 64, 64, bufCapacity);
        short[] k = randomHalves(kvHeads * bufCapacity * headDim);
        short[] v = randomHalves(k.length);
        try (DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout)) {
            kv.bufferKeys.upload(k);
            kv.bufferValues.upload(v);
            // when
            new DeviceKvQuantizer(context).shiftBuffer(kv, from, rows);
            // then rows [0, rows) hold the old rows [from, from + rows), the others are untouched (memmove)
            assertThat(kv.bufferKeys.downloadShorts(k.length)).as("keys").containsExactly(shifted(k, from, rows, layout));
            assertThat(kv.bufferValues.downloadShorts(v.length)).as("values").containsExactly(shifted(v, from, rows, layout));
        }
    }

    @Test
    void should_copy_head_major_prefill_rows_into_the_buffer() {
        // given a head-major fp16 prefill cache [3][cap 300][64]
        int kvHeads = 3, headDim = 64, cap = 300, first = 256, rows = 37;
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, headDim, 256, 64, 64, 50);
        short[] srcK = randomHalves(kvHeads * cap * headDim);
        short[] srcV = randomHalves(srcK.length);
        short[] bufK = randomHalves(kvHeads * layout.bufferCapacity() * headDim);
        short[] bufV = randomHalves(bufK.length);
        try (DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
             DeviceBuffer dK = context.allocate("prefill keys", srcK.length * 2L);
             DeviceBuffer dV = context.allocate("prefill values", srcV.length * 2L)) {
            dK.upload(srcK);
            dV.upload(srcV);
            kv.bufferKeys.upload(bufK);
            kv.bufferValues.upload(bufV);
            // when
            new DeviceKvQuantizer(context).copyToBuffer(dK, dV, (long) cap * headDim, first, rows, kv);
            // then
            short[] wantK = bufK.clone(), wantV = bufV.clone();
            for (int h = 0; h < kvHeads; h++) {
                System.arraycopy(srcK, (h * cap + first) * headDim, wantK, h * layout.bufferCapacity() * headDim, rows * headDim);
                System.arraycopy(srcV, (h * cap + first) * headDim, wantV, h * layout.bufferCapacity() * headDim, rows * headDim);
            }
            assertThat(kv.bufferKeys.downloadShorts(wantK.length)).as("keys").containsExactly(wantK);
            assertThat(kv.bufferValues.downloadShorts(wantV.length)).as("values").containsExactly(wantV);
        }
    }

    /** A cache quantized on the CPU (quantized rows past {@code quantized} and buffer rows from {@code bufLen} hold 3e4). */
    private final class CpuCache {
        final QuantizedKvLayout layout;
        final int quantized;
        final NibblePlane ku, kl, vu, vl;
        final float[] kp, vp;
        final short[] bufK, bufV;

        CpuCache(QuantizedKvLayout l, int quantized, int bufLen) {
            this.layout = l;
            this.quantized = quantized;
            int capacity = l.capacity(), g = l.groupSize(), hd = l.headDim(), kvDim = l.kvHeads() * hd;
            float[] keys = randomFloats(capacity * kvDim, 2f);
            float[] values = randomFloats(capacity * kvDim, 2f);
            for (int i = quantized * kvDim; i < keys.length; i++) {
                keys[i] = 3e4f;
                values[i] = 3e4f;
            }
            long nibbles = (long) l.kvHeads() * capacity * hd;
            ku = new NibblePlane(nibbles);
            kl = new NibblePlane(nibbles);
            vu = new NibblePlane(nibbles);
            vl = new NibblePlane(nibbles);
            kp = new float[l.kvHeads() * l.maxGroups() * hd * 2];
            vp = new float[l.kvHeads() * capacity * l.valueGroups() * 2];
            float[] two = new float[2];
            for (int group = 0; group < capacity / g; group++) {
                for (int h = 0; h < l.kvHeads(); h++) {
                    long tokenBase = (long) (h * capacity + group * g) * hd;
                    for (int ch = 0; ch < hd; ch++) {
                        ResidualQuantizer.quantizeGroup(keys, group * g * kvDim + h * hd + ch, kvDim, g, ku, kl,
                                tokenBase + ch, hd, two, 0);
                        int p = ((h * l.maxGroups() + group) * hd + ch) * 2;
                        kp[p] = two[0];
                        kp[p + 1] = two[1];
                    }
                    for (int t = 0; t < g; t++) {
                        for (int j = 0; j < l.valueGroups(); j++) {
                            ResidualQuantizer.quantizeGroup(values, (group * g + t) * kvDim + h * hd + j * l.valueGroupSize(),
                                    1, l.valueGroupSize(), vu, vl, tokenBase + (long) t * hd + j * l.valueGroupSize(), 1, two, 0);
                            int p = ((h * capacity + group * g + t) * l.valueGroups() + j) * 2;
                            vp[p] = two[0];
                            vp[p + 1] = two[1];
                        }
                    }
                }
            }
            bufK = new short[l.kvHeads() * l.bufferCapacity() * hd];
            bufV = new short[bufK.length];
            for (int i = 0; i < bufK.length; i++) {
                boolean outside = (i / hd) % l.bufferCapacity() >= bufLen;
                bufK[i] = HalfFloats.floatToHalf(outside ? 3e4f : (float) (random.nextDouble() * 4 - 2));
                bufV[i] = HalfFloats.floatToHalf(outside ? 3e4f : (float) (random.nextDouble() * 4 - 2));
            }
        }

        DeviceQuantizedKv upload() {
            DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
            kv.keyUpper.upload(ku.bytes());
            kv.keyLower.upload(kl.bytes());
            kv.valueUpper.upload(vu.bytes());
            kv.valueLower.upload(vl.bytes());
            kv.keyParams.upload(GpuTestData.halves(kp));
            kv.valueParams.upload(GpuTestData.halves(vp));
            kv.bufferKeys.upload(bufK);
            kv.bufferValues.upload(bufV);
            return kv;
        }

        /** softmax(q K^T / sqrt(hd)) V in double over the first {@code visible} positions, every query head. */
        double[] attend(float[] q, int qOff, int nHeads, int visible, boolean target) {
            int hd = layout.headDim(), group = nHeads / layout.kvHeads();
            double[] out = new double[nHeads * hd];
            double scale = 1.0 / Math.sqrt(hd);
            for (int head = 0; head < nHeads; head++) {
                int h = head / group;
                double[] scores = new double[visible];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < visible; t++) {
                    double s = 0;
                    for (int ch = 0; ch < hd; ch++) {
                        s += (double) q[qOff + head * hd + ch] * keyAt(h, t, ch, quantized, layout, ku, kl, kp, bufK, target);
                    }
                    scores[t] = s * scale;
                    max = Math.max(max, scores[t]);
                }
                double denom = 0;
                for (int t = 0; t < visible; t++) denom += Math.exp(scores[t] - max);
                for (int ch = 0; ch < hd; ch++) {
                    double acc = 0;
                    for (int t = 0; t < visible; t++) {
                        acc += Math.exp(scores[t] - max) * valueAt(h, t, ch, quantized, layout, vu, vl, vp, bufV, target);
                    }
                    out[head * hd + ch] = acc / denom;
                }
            }
            return out;
        }
    }

    private static int[] passHeader(int quantized, int bufRow0, int n) {
        int[] header = new int[4 + n];
        header[0] = quantized + bufRow0;
        header[1] = quantized;
        header[2] = bufRow0;
        for (int i = 0; i < n; i++) header[4 + i] = 100 + i;
        return header;
    }

    private static DeviceBuffer qRow(DeviceBuffer q, int row, int rowStride) {
        long offset = (long) row * rowStride * 4;
        return q.view(q.name() + " row " + row, offset, q.bytes() - offset);
    }

    private short[] randomHalves(int n) {
        short[] h = new short[n];
        for (int i = 0; i < n; i++) h[i] = HalfFloats.floatToHalf((float) (random.nextDouble() * 8 - 4));
        return h;
    }

    private static float[] fp16Rounded(float[] v) {
        for (int i = 0; i < v.length; i++) v[i] = HalfFloats.halfToFloat(HalfFloats.floatToHalf(v[i]));
        return v;
    }

    private static short[] shifted(short[] plane, int from, int rows, QuantizedKvLayout l) {
        short[] want = plane.clone();
        int rowElems = l.headDim();
        for (int h = 0; h < l.kvHeads(); h++) {
            int base = h * l.bufferCapacity() * rowElems;
            System.arraycopy(plane, base + from * rowElems, want, base, rows * rowElems);
        }
        return want;
    }

    // ---------------------------------------------------------------- reference helpers

    /**
     * |out - double reference| allowed per kernel version. Versions 1-2 compute in fp32: 1e-4 (see
     * should_match_dequantize_then_attend_in_double). Version 3: 4e-3 (fp16 products, same place).
     * Version 6 (tensor cores): the query weights (q * scale * s / 16 per key group), the probabilities
     * (p * s / 16) and the buffer's q and p enter the MMAs as fp16, 2^-11 relative rounding each. The
     * probability rounding moves the output by at most 2^-11 x max |v| ~ 1e-3 (values within about +-2) if every
     * rounding went the same way, and averages far lower; the weight rounding multiplies centred codes
     * (|c8 - 128| <= 128), so the score error stays ~1e-4 or less. H200 (mma-harness, 2026-11-29): worst 4.7e-4
     * over 30 cases of these shapes. 2e-3 leaves 4x margin over that and stays 5x below what a wrong code,
     * parameter, mask or merge does (0.01 and more).
     * Version 7 (the INT4 draft on tensor cores) rounds the same things to fp16 (query weights q * s / 16 on
     * centred codes |u - 7.5| <= 7.5, probabilities p * s / 16, the buffer's q and p), so the same bound holds;
     * H200 (mma-harness, 2026-11-29): worst 4.8e-4 over 33 cases (head dim 64/128, GQA 1/2/4), so 2e-3 again.
     */
    private static double tolerance(QuantizedDecodeAttention.Tuning tuning) {
        return switch (tuning.version()) {
            case 3 -> 4e-3;
            case 6, 7 -> 2e-3;
            default -> 1e-4;
        };
    }

    private static double keyAt(int h, int t, int c, int quantized, QuantizedKvLayout l, NibblePlane u, NibblePlane lo,
                                float[] params, short[] buf, boolean target) {
        if (t >= quantized) {
            return HalfFloats.halfToFloat(buf[(h * l.bufferCapacity() + t - quantized) * l.headDim() + c]);
        }
        long i = (long) (h * l.capacity() + t) * l.headDim() + c;
        int p = ((h * l.maxGroups() + t / l.groupSize()) * l.headDim() + c) * 2;
        return target ? ResidualQuantizer.dequant8(u.get(i), lo.get(i), params[p], params[p + 1])
                : ResidualQuantizer.dequant4(u.get(i), params[p], params[p + 1]);
    }

    private static double valueAt(int h, int t, int c, int quantized, QuantizedKvLayout l, NibblePlane u, NibblePlane lo,
                                  float[] params, short[] buf, boolean target) {
        if (t >= quantized) {
            return HalfFloats.halfToFloat(buf[(h * l.bufferCapacity() + t - quantized) * l.headDim() + c]);
        }
        long i = (long) (h * l.capacity() + t) * l.headDim() + c;
        int p = ((h * l.capacity() + t) * l.valueGroups() + c / l.valueGroupSize()) * 2;
        return target ? ResidualQuantizer.dequant8(u.get(i), lo.get(i), params[p], params[p + 1])
                : ResidualQuantizer.dequant4(u.get(i), params[p], params[p + 1]);
    }

    /** Random rows in [-2, 2] plus, in head 0: a constant channel, signed zeros, a denormal range, values on half steps. */
    private float[] awkwardRows(int tokens, int stride, int headDim, DeviceKvQuantizer.Source type) {
        float[] v = randomFloats(tokens * stride, 2f);
        for (int t = 0; t < tokens; t++) {
            v[t * stride] = 0.75f;                                    // constant key channel 0 -> SCALE_FLOOR
            v[t * stride + 1] = (t % 2 == 0) ? 0.0f : -0.0f;          // signed zeros
            v[t * stride + 2] = t == 0 ? -1.0f : (t == 1 ? 14.0f : (float) (t % 31) - 1.0f); // ties at half steps
            v[t * stride + 3] = Float.MIN_NORMAL * (t % 3);           // a tiny range
            // the fp16 params (minimum rounded down, scale up): a minimum near the half range's end, a constant
            // that is no half, values in the half subnormals, a narrow range far from zero
            v[t * stride + 4] = -65000f + 400f * (float) random.nextDouble();
            v[t * stride + 5] = 0.1f;
            v[t * stride + 6] = 3e-6f * (float) random.nextDouble() - 1e-6f;
            v[t * stride + 7] = 1000.3f + 1e-3f * (t % 5);
        }
        if (type == DeviceKvQuantizer.Source.F16) {
            for (int i = 0; i < v.length; i++) v[i] = HalfFloats.halfToFloat(HalfFloats.floatToHalf(v[i]));
        }
        return v;
    }

    private float[] randomFloats(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * scale;
        return v;
    }

    private static int[] bits(float[] values) {
        int[] b = new int[values.length];
        for (int i = 0; i < b.length; i++) b[i] = Float.floatToRawIntBits(values[i]);
        return b;
    }

    private static byte[] bytes(DeviceBuffer plane) {
        int[] words = plane.downloadInts((int) (plane.bytes() / 4));
        ByteBuffer bb = ByteBuffer.allocate(words.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asIntBuffer().put(words);
        return bb.array();
    }

    private static DeviceQuantizedKv zeroed(QuantizedKvLayout layout) {
        DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout);
        for (DeviceBuffer b : new DeviceBuffer[] {kv.keyUpper, kv.keyLower, kv.valueUpper, kv.valueLower, kv.keyParams,
                kv.valueParams}) {
            b.fill((byte) 0);
        }
        return kv;
    }

    private static DeviceBuffer uploadAs(String name, float[] values, DeviceKvQuantizer.Source type) {
        if (type == DeviceKvQuantizer.Source.F32) return upload(name, values);
        short[] h = new short[values.length];
        for (int i = 0; i < h.length; i++) h[i] = HalfFloats.floatToHalf(values[i]);
        DeviceBuffer b = context.allocate(name, h.length * 2L);
        b.upload(h);
        return b;
    }

    private static DeviceBuffer upload(String name, float[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 4L);
        b.upload(values);
        return b;
    }

    private static DeviceBuffer poisoned(String name, long bytes) {
        DeviceBuffer b = context.allocate(name, bytes);
        b.fill((byte) 0xff);
        return b;
    }

    private static org.assertj.core.data.Offset<Double> within(double tolerance) {
        return org.assertj.core.data.Offset.offset(tolerance);
    }
}
