package dev.quantspec.cuda;

/**
 * Draws a token from a row of logits on the device (kernel {@code qs_sample} in sampling.cuh): the
 * distribution of {@code dev.quantspec.generate.TokenDistribution} (temperature, softmax, top-k, then
 * top-p, ties in probability broken by lower id first) and the draw of {@code TokenDistribution.sample}
 * (ids in index order, the first whose cumulative probability passes {@code u}), up to float rounding.
 * Only the chosen id comes back (4 bytes instead of the vocab's logits). One block of
 * {@value #THREADS} threads: radix select over the probabilities' bit patterns finds the top-k/top-p
 * threshold, a block scan in index order finds the drawn id.
 *
 * <p>Owns its int[1] output; not thread-safe (one sampler per decoding thread).
 */
public final class DeviceSampler implements AutoCloseable {
    /** Largest vocabulary the kernel serves (the fixed-point mass sums and the tested range hold up to 2^18 ids). */
    public static final int MAX_VOCAB = 1 << 18;
    static final int THREADS = 1024;  // sampling.cuh SAMPLE_THREADS

    private final CudaContext context;
    private final DeviceBuffer out;

    public DeviceSampler(CudaContext context) {
        this.context = context;
        this.out = context.allocate("sampled token int[1]", 4);
    }

    /**
     * The id drawn from {@code logits} fp32 [vocab] with the uniform number {@code u} in [0, 1), under
     * {@code temperature > 0}, {@code topK} (0 = no cut) and {@code topP} in (0, 1] (1 = no cut): the id
     * {@code TokenDistribution.sample(probabilities, vocab, u)} gives for the same parameters.
     *
     * @throws IllegalArgumentException for parameters outside those ranges or a buffer too small
     * @throws IllegalStateException when the logits have no finite maximum (all NaN or -inf, or +inf)
     */
    public int sample(DeviceBuffer logits, int vocab, float temperature, int topK, float topP, double u) {
        String shapes = check(logits, vocab, temperature, topK, topP, u);
        try (KernelArgs args = new KernelArgs().buffer(logits).i32(vocab).f32(1f / temperature).i32(topK).f32(topP)
                .i64(Double.doubleToRawLongBits(u))  // the kernel's double u: 8 bytes, the same bits
                .buffer(out)) {
            context.launch("qs_sample", 1, 1, THREADS, args, shapes);
        }
        int id = out.downloadInts(1)[0];
        if (id < 0 || id >= vocab) {
            throw new IllegalStateException("no token to sample: the logits have no finite maximum (" + shapes + ")");
        }
        return id;
    }

    /** The host-side checks of {@link #sample}, before anything is launched; returns the shapes for messages. */
    static String check(DeviceBuffer logits, int vocab, float temperature, int topK, float topP, double u) {
        String shapes = "logits " + logits.name() + " f32[" + vocab + "], temperature " + temperature + ", topK " + topK
                + ", topP " + topP;
        if (vocab <= 0 || vocab > MAX_VOCAB) {
            throw new IllegalArgumentException("the device sampler serves vocabularies of 1.." + MAX_VOCAB + " ids: "
                    + shapes);
        }
        CudaKernels.require(logits, vocab * 4L, shapes);
        if (!(temperature > 0f) || Float.isInfinite(temperature) || Float.isInfinite(1f / temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number > 0 with a finite inverse "
                    + "(greedy decoding uses the argmax): " + shapes);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 disables it): " + shapes);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("topP must be in (0, 1]: " + shapes);
        }
        if (!(u >= 0.0 && u < 1.0)) {
            throw new IllegalArgumentException("u must be in [0, 1), got " + u + ": " + shapes);
        }
        return shapes;
    }

    @Override
    public void close() {
        out.close();
    }
}
