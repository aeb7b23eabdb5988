package dev.quantspec.cuda;

/**
 * Quantize-and-pack on the GPU (the prefill split and the decode-time CF1 flush): the same codes and
 * (scale, min) bits as {@code dev.quantspec.quant.ResidualQuantizer}, written into a
 * {@link DeviceQuantizedKv}. Keys are grouped per channel over G tokens, values per token over the
 * value group. Non-finite input cannot throw on the device: the kernels set {@code status[0] = 1}
 * and leave that group unwritten; {@link #checkStatus} turns it into the CPU's exception.
 */
public final class DeviceKvQuantizer {
    /** Element type of the source rows: the CPU's fp32 buffer, or the GPU's fp16 buffer. */
    public enum Source {
        F32("f32", 4), F16("f16", 2);

        final String suffix;
        final int bytes;

        Source(String suffix, int bytes) {
            this.suffix = suffix;
            this.bytes = bytes;
        }
    }

    static final int KEY_THREADS = 64;     // one thread per channel pair
    static final int VALUE_THREADS = 128;  // one thread per (token, value group)

    private final CudaContext context;

    public DeviceKvQuantizer(CudaContext context) {
        this.context = context;
    }

    /**
     * Quantizes the keys of tokens [firstToken, firstToken + G) of every kv head (one key group).
     *
     * @param src            rows of the G tokens: {@code type[G][srcTokenStride]}, head h's channels at h*headDim
     * @param firstToken     absolute position of the group's first token, a multiple of G
     * @param status         int[1], set to 1 if a group's range is not finite
     */
    public void quantizeKeys(DeviceBuffer src, Source type, int srcTokenStride, DeviceQuantizedKv dst, int firstToken,
                             DeviceBuffer status) {
        QuantizedKvLayout l = dst.layout();
        String shapes = "keys " + type + "[" + l.groupSize() + "][" + srcTokenStride + "] -> tokens " + firstToken + ".."
                + (firstToken + l.groupSize() - 1) + " of " + l;
        if (firstToken % l.groupSize() != 0 || firstToken < 0 || firstToken + l.groupSize() > l.maxGroups() * l.groupSize()) {
            throw new IllegalArgumentException("a key group starts at a multiple of G inside the capacity: " + shapes);
        }
        checkSource(src, type, srcTokenStride, l, l.groupSize(), shapes);
        CudaKernels.require(status, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(src).i32(srcTokenStride).buffer(dst.keyUpper).buffer(dst.keyLower)
                .buffer(dst.keyParams).buffer(status).i32(l.headDim()).i32(l.capacity()).i32(l.groupSize())
                .i32(l.maxGroups()).i32(firstToken)) {
            context.launch("qs_kv_quantize_keys_" + type.suffix, CudaKernels.ceilDiv(l.headDim() / 2, KEY_THREADS),
                    l.kvHeads(), KEY_THREADS, args, shapes);
        }
    }

    /** Quantizes the values of tokens [firstToken, firstToken + tokens) of every kv head, one group per value group. */
    public void quantizeValues(DeviceBuffer src, Source type, int srcTokenStride, DeviceQuantizedKv dst, int firstToken,
                               int tokens, DeviceBuffer status) {
        QuantizedKvLayout l = dst.layout();
        String shapes = "values " + type + "[" + tokens + "][" + srcTokenStride + "] -> tokens " + firstToken + ".."
                + (firstToken + tokens - 1) + " of " + l;
        if (tokens < 1 || firstToken < 0 || firstToken + tokens > l.capacity()) {
            throw new IllegalArgumentException("value tokens outside the capacity: " + shapes);
        }
        checkSource(src, type, srcTokenStride, l, tokens, shapes);
        CudaKernels.require(status, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(src).i32(srcTokenStride).buffer(dst.valueUpper)
                .buffer(dst.valueLower).buffer(dst.valueParams).buffer(status).i32(l.headDim()).i32(l.capacity())
                .i32(l.valueGroupSize()).i32(tokens).i32(firstToken)) {
            context.launch("qs_kv_quantize_values_" + type.suffix,
                    CudaKernels.ceilDiv((long) tokens * l.valueGroups(), VALUE_THREADS), l.kvHeads(), VALUE_THREADS,
                    args, shapes);
        }
    }

    /** Throws the CPU quantizer's error if a kernel since the last reset saw a non-finite group; resets the flag. */
    public static void checkStatus(DeviceBuffer status, String what) {
        int flag = status.downloadInts(1)[0];
        if (flag != 0) {
            status.fill((byte) 0);
            throw new dev.quantspec.QuantSpecException("cannot quantize " + what
                    + ": a group holds a NaN or infinite value, or its range max - min overflows float");
        }
    }

    private static void checkSource(DeviceBuffer src, Source type, int stride, QuantizedKvLayout l, int tokens,
                                    String shapes) {
        if (stride < l.kvHeads() * l.headDim()) {
            throw new IllegalArgumentException("source token stride must cover every kv head: " + shapes);
        }
        CudaKernels.require(src, ((long) (tokens - 1) * stride + (long) l.kvHeads() * l.headDim()) * type.bytes, shapes);
    }
}
