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
            assertThat(bits(kv.keyParams.downloadFloats(kp.length))).as("key params").containsExactly(bits(kp));
            assertThat(bits(kv.valueParams.downloadFloats(vp.length))).as("value params").containsExactly(bits(vp));
        }
    }

    @Test
    void should_flag_a_group_holding_a_nan_instead_of_packing_it() {
        // given one value that is NaN
        QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 128, 64, 64, 8);
        float[] keys = randomFloats(64 * 128, 1f);
        keys[5 * 128 + 70] = Float.NaN;
        try (DeviceQuantizedKv kv = zeroed(layout); DeviceBuffer dKeys = uploadAs("keys", keys, DeviceKvQuantizer.Source.F32);
             DeviceBuffer status = context.allocate("status", 4)) {
            status.fill((byte) 0);
            // when
            new DeviceKvQuantizer(context).quantizeKeys(dKeys, DeviceKvQuantizer.Source.F32, 128, kv, 64, status);
            // then
            assertThatThrownBy(() -> DeviceKvQuantizer.checkStatus(status, "layer 3 keys"))
                    .isInstanceOf(QuantSpecException.class).hasMessageContaining("layer 3 keys");
            assertThat(status.downloadInts(1)[0]).as("flag reset").isZero();
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
            "VERIFY, 2, 2, 128, 128, 128, 20480, 200, 3", "VERIFY, 8, 2, 128, 64, 64, 8192, 70, 2"})
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
            kv.keyParams.upload(kp);
            kv.valueParams.upload(vp);
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
            assertThat(tunings).as("tunings run").hasSizeGreaterThanOrEqualTo(2);

            // then: scores carry ~1e-6 relative fp32 error (the folded offsets are 8-16x the code
            // range), so outputs, convex combinations of values in [-2, 2], are within ~1e-5 of
            // the reference; 1e-4 is safe, while a wrong code, param, mask or merge moves them by 0.01+.
            // Version 3 multiplies in fp16: products round by 2^-11 relative on folded values of up to
            // ~4 (1 + n/16 times 16 x scale), i.e. ~2e-3 per term at worst, averaging down over the
            // positions; 4e-3 bounds it and still sits below what a wrong code or merge does (H200
            // run 3, 2026-11-29: version 3 worst 5.0e-4 over all cases).
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
                                    .isCloseTo(ref, within(tunings.get(k).version() == 3 ? 4e-3 : 1e-4));
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

    // ---------------------------------------------------------------- reference helpers

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
