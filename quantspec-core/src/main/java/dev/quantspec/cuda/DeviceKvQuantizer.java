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
     * Quantizes the keys of tokens [firstToken, firstToken + G) of every kv head (one key group) from
     * token-major rows ({@code srcHeadStride = headDim}); see the general overload.
     */
    public void quantizeKeys(DeviceBuffer src, Source type, int srcTokenStride, DeviceQuantizedKv dst, int firstToken,
                             DeviceBuffer status) {
        quantizeKeys(src, type, srcTokenStride, dst.layout().headDim(), dst, firstToken, 1, status);
    }

    /**
     * Quantizes the keys of {@code groups} consecutive key groups, tokens [firstToken, firstToken + groups * G)
     * of every kv head, in one launch (the prefill split quantizes up to ~1000 groups per layer).
     *
     * @param src            source token t (0 = the first group's first token) of kv head h at element
     *                       {@code t * srcTokenStride + h * srcHeadStride}: token-major rows
     *                       {@code [tokens][>= kvDim]} (head stride headDim) or the head-major fp16 buffer /
     *                       prefill cache {@code [kvHeads][cap][headDim]} (token stride headDim, head stride
     *                       cap * headDim)
     * @param srcTokenStride elements between consecutive tokens of one head
     * @param srcHeadStride  elements between the same token of consecutive kv heads
     * @param firstToken     absolute position of the first group's first token, a multiple of G
     * @param groups         key groups, at least 1
     * @param status         int[1], set to 1 if a group's range is not finite
     */
    public void quantizeKeys(DeviceBuffer src, Source type, int srcTokenStride, long srcHeadStride, DeviceQuantizedKv dst,
                             int firstToken, int groups, DeviceBuffer status) {
        QuantizedKvLayout l = dst.layout();
        long tokens = (long) groups * l.groupSize();
        String shapes = "keys " + type + ", " + groups + " groups of " + l.groupSize() + " tokens (token stride "
                + srcTokenStride + ", head stride " + srcHeadStride + ") -> tokens " + firstToken + ".."
                + (firstToken + tokens - 1) + " of " + l;
        checkKeys(l, type, src, srcTokenStride, srcHeadStride, firstToken, groups, shapes);
        CudaKernels.require(status, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(src).i32(srcTokenStride).i64(srcHeadStride).buffer(dst.keyUpper)
                .buffer(dst.keyLower).buffer(dst.keyParams).buffer(status).i32(l.headDim()).i32(l.capacity())
                .i32(l.groupSize()).i32(l.maxGroups()).i32(firstToken)) {
            context.launch("qs_kv_quantize_keys_" + type.suffix,
                    CudaKernels.ceilDiv(l.headDim() / 2, KEY_THREADS) * groups, l.kvHeads(), KEY_THREADS, args, shapes);
        }
    }

    static void checkKeys(QuantizedKvLayout l, Source type, DeviceBuffer src, int srcTokenStride, long srcHeadStride,
                          int firstToken, int groups, String shapes) {
        long end = firstToken + (long) groups * l.groupSize();
        if (groups < 1 || firstToken % l.groupSize() != 0 || firstToken < 0
                || end > (long) l.maxGroups() * l.groupSize()) {
            throw new IllegalArgumentException("key groups start at a multiple of G and lie inside the capacity "
                    + ": " + shapes);
        }
        checkSource(src, type, srcTokenStride, srcHeadStride, l, (long) groups * l.groupSize(), shapes);
    }

    /** Quantizes the values of tokens [firstToken, firstToken + tokens) of every kv head from token-major rows. */
    public void quantizeValues(DeviceBuffer src, Source type, int srcTokenStride, DeviceQuantizedKv dst, int firstToken,
                               int tokens, DeviceBuffer status) {
        quantizeValues(src, type, srcTokenStride, dst.layout().headDim(), dst, firstToken, tokens, status);
    }

    /**
     * Quantizes the values of tokens [firstToken, firstToken + tokens) of every kv head, one group per value
     * group; source token t (0 = token firstToken) of kv head h at element {@code t * srcTokenStride +
     * h * srcHeadStride} (as {@link #quantizeKeys(DeviceBuffer, Source, int, long, DeviceQuantizedKv, int, int,
     * DeviceBuffer)}).
     */
    public void quantizeValues(DeviceBuffer src, Source type, int srcTokenStride, long srcHeadStride,
                               DeviceQuantizedKv dst, int firstToken, int tokens, DeviceBuffer status) {
        QuantizedKvLayout l = dst.layout();
        String shapes = "values " + type + ", " + tokens + " tokens (token stride " + srcTokenStride + ", head stride "
                + srcHeadStride + ") -> tokens " + firstToken + ".." + (firstToken + tokens - 1) + " of " + l;
        if (tokens < 1 || firstToken < 0 || (long) firstToken + tokens > l.capacity()) {
            throw new IllegalArgumentException("value tokens outside the capacity: " + shapes);
        }
        checkSource(src, type, srcTokenStride, srcHeadStride, l, tokens, shapes);
        CudaKernels.require(status, 4, shapes);
        try (KernelArgs args = new KernelArgs().buffer(src).i32(srcTokenStride).i64(srcHeadStride).buffer(dst.valueUpper)
                .buffer(dst.valueLower).buffer(dst.valueParams).buffer(status).i32(l.headDim()).i32(l.capacity())
                .i32(l.valueGroupSize()).i32(tokens).i32(firstToken)) {
            context.launch("qs_kv_quantize_values_" + type.suffix,
                    CudaKernels.ceilDiv((long) tokens * l.valueGroups(), VALUE_THREADS), l.kvHeads(), VALUE_THREADS,
                    args, shapes);
        }
    }

    static final int COPY_THREADS = 256;  // quantkv.cuh qs_buffer_shift / qs_buffer_copy_in

    /**
     * Moves buffer rows [from, from + rows) to [0, rows) in every kv head, keys and values (the CF2 -> CF1
     * shift after a flush). Overlapping ranges ({@code from < rows}) are safe: one block per (kv head, K or V)
     * copies {@code from} rows at a time in increasing order with a barrier between steps, so no row is
     * overwritten before it has been read. {@code rows == 0} does nothing.
     */
    public void shiftBuffer(DeviceQuantizedKv kv, int from, int rows) {
        QuantizedKvLayout l = kv.layout();
        String shapes = "buffer rows [" + from + ", " + (from + rows) + ") -> [0, " + rows + ") of " + l;
        checkShift(l, from, rows, shapes);
        if (rows == 0) return;
        try (KernelArgs args = new KernelArgs().buffer(kv.bufferKeys).buffer(kv.bufferValues).i32(from).i32(rows)
                .i32(l.headDim()).i32(l.bufferCapacity())) {
            context.launch("qs_buffer_shift", l.kvHeads(), 2, COPY_THREADS, args, shapes);
        }
    }

    static void checkShift(QuantizedKvLayout l, int from, int rows, String shapes) {
        if (from < 1 || rows < 0 || (long) from + rows > l.bufferCapacity()) {
            throw new IllegalArgumentException("a shift moves rows from >= 1 inside the buffer: " + shapes);
        }
    }

    /**
     * Buffer rows [0, rows) of every kv head (keys from srcK, values from srcV) <- source rows
     * [firstToken, firstToken + rows): fp16 head-major sources, kv head h's row t at element
     * {@code h * srcHeadStride + t * headDim} (the prefill cache [kvHeads][cap][headDim]: srcHeadStride =
     * cap * headDim). The sources must not overlap the buffer.
     */
    public void copyToBuffer(DeviceBuffer srcK, DeviceBuffer srcV, long srcHeadStride, int firstToken, int rows,
                             DeviceQuantizedKv kv) {
        QuantizedKvLayout l = kv.layout();
        String shapes = "fp16 rows [" + firstToken + ", " + (firstToken + rows) + ") of " + srcK.name() + "/" + srcV.name()
                + " (head stride " + srcHeadStride + ") -> buffer rows [0, " + rows + ") of " + l;
        checkCopy(l, srcK, srcV, srcHeadStride, firstToken, rows, shapes);
        if (rows == 0) return;
        if (((srcK.address() | srcV.address()) & 15) != 0) {
            throw new IllegalArgumentException("sources must be 16-byte aligned: " + shapes);
        }
        try (KernelArgs args = new KernelArgs().buffer(srcK).buffer(srcV).i64(srcHeadStride).i32(firstToken).i32(rows)
                .buffer(kv.bufferKeys).buffer(kv.bufferValues).i32(l.headDim()).i32(l.bufferCapacity())) {
            context.launch("qs_buffer_copy_in", CudaKernels.ceilDiv((long) rows * l.headDim() / 8, COPY_THREADS),
                    2 * l.kvHeads(), COPY_THREADS, args, shapes);
        }
    }

    static void checkCopy(QuantizedKvLayout l, DeviceBuffer srcK, DeviceBuffer srcV, long srcHeadStride, int firstToken,
                          int rows, String shapes) {
        if (rows < 0 || rows > l.bufferCapacity() || firstToken < 0) {
            throw new IllegalArgumentException("rows must fit the buffer: " + shapes);
        }
        if (srcHeadStride % 8 != 0 || (l.kvHeads() > 1 && srcHeadStride < (long) (firstToken + rows) * l.headDim())) {
            throw new IllegalArgumentException("the head stride must be a multiple of 8 covering the rows: " + shapes);
        }
        long bytes = ((l.kvHeads() - 1) * srcHeadStride + (long) (firstToken + rows) * l.headDim()) * 2;
        CudaKernels.require(srcK, bytes, shapes);
        CudaKernels.require(srcV, bytes, shapes);
    }

    /** Throws the CPU quantizer's error if a kernel since the last reset saw a non-finite group; resets the flag. */
    public static void checkStatus(DeviceBuffer status, String what) {
        int flag = status.downloadInts(1)[0];
        if (flag != 0) {
            status.fill((byte) 0);
            throw new dev.quantspec.QuantSpecException("cannot quantize " + what
                    + ": a group holds a NaN or infinite value, or its fp16 params do not fit (a minimum below -65504 "
                    + "or a scale (max - min) / 15 above 65504)");
        }
    }

    private static void checkSource(DeviceBuffer src, Source type, int tokenStride, long headStride, QuantizedKvLayout l,
                                    long tokens, String shapes) {
        if (tokenStride < 1 || headStride < 1) {
            throw new IllegalArgumentException("source strides must be positive: " + shapes);
        }
        // the elements of a token (headDim per head) must not run into the next token or head
        boolean tokenMajor = headStride <= tokenStride;
        if (tokenMajor ? (headStride < l.headDim() || tokenStride < (l.kvHeads() - 1) * headStride + l.headDim())
                : (tokenStride < l.headDim() || headStride < (tokens - 1) * tokenStride + l.headDim())) {
            throw new IllegalArgumentException("source strides overlap heads or tokens: " + shapes);
        }
        long last = (tokens - 1) * tokenStride + (l.kvHeads() - 1) * headStride + l.headDim();
        CudaKernels.require(src, last * type.bytes, shapes);
    }
}
