package dev.quantspec.cuda;

import org.assertj.core.data.Offset;

import java.util.SplittableRandom;

/** Inputs and buffers for the GPU kernel tests: random values, device uploads, poisoned outputs, bit patterns. */
final class GpuTestData {
    private GpuTestData() {}

    /** n values uniform in (-scale, scale). */
    static float[] randomFloats(SplittableRandom random, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * scale;
        return v;
    }

    /** n bf16 bit patterns of values uniform in (-scale, scale). */
    static short[] randomBf16(SplittableRandom random, int n, float scale) {
        short[] v = new short[n];
        for (int i = 0; i < n; i++) v[i] = HalfFloats.floatToBf16((float) (random.nextDouble() * 2 - 1) * scale);
        return v;
    }

    /** The raw bits of each value, for bit-for-bit comparisons. */
    static int[] bits(float[] values) {
        int[] b = new int[values.length];
        for (int i = 0; i < b.length; i++) b[i] = Float.floatToRawIntBits(values[i]);
        return b;
    }

    /**
     * fp16 bit patterns of values that are halves (the KV cache's params, which the quantizer rounds to halves):
     * the device layout of a CPU params array; fails on a value a half cannot hold exactly.
     */
    static short[] halves(float[] exactHalves) {
        short[] h = new short[exactHalves.length];
        for (int i = 0; i < h.length; i++) {
            h[i] = HalfFloats.floatToHalf(exactHalves[i]);
            if (Float.floatToRawIntBits(HalfFloats.halfToFloat(h[i])) != Float.floatToRawIntBits(exactHalves[i])) {
                throw new IllegalArgumentException("param " + i + " = " + exactHalves[i] + " is not a half");
            }
        }
        return h;
    }

    static DeviceBuffer upload(CudaContext context, String name, float[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 4L);
        b.upload(values);
        return b;
    }

    static DeviceBuffer upload(CudaContext context, String name, short[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 2L);
        b.upload(values);
        return b;
    }

    static DeviceBuffer upload(CudaContext context, String name, int[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 4L);
        b.upload(values);
        return b;
    }

    /** A buffer of 0xff bytes (NaN floats), so that an output a kernel fails to write shows. */
    static DeviceBuffer poisoned(CudaContext context, String name, long bytes) {
        DeviceBuffer b = context.allocate(name, bytes);
        b.fill((byte) 0xff);
        return b;
    }

    static Offset<Double> within(double tolerance) {
        return Offset.offset(tolerance);
    }
}
