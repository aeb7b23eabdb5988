package dev.quantspec.cuda;

/**
 * Speculative sampling on the device (sampling.cuh), so that a sampled QuantSpec round runs as one
 * graph like a greedy one: the draft and target distributions stay in device memory, the uniform
 * numbers come from a device buffer the host fills before the launch, and only the round's outcome
 * comes back. The distributions are {@code dev.quantspec.generate.TokenDistribution}'s and the rule is
 * {@code SpeculativeSampling}'s, up to float rounding (sums in another order). Every argument is fixed
 * when a launch is captured, so all of it can live in a graph.
 */
public final class DeviceSpeculativeSampling {
    static final int THREADS = DeviceSampler.THREADS;  // sampling.cuh SAMPLE_THREADS

    private final CudaContext context;

    public DeviceSpeculativeSampling(CudaContext context) {
        this.context = context;
    }

    /**
     * {@code probs[r]} := the distribution of logits row r (temperature, softmax, top-k, then top-p) for
     * r < rows; with {@code uniforms} (else null), {@code tokens[r]} := the id drawn from it with
     * {@code uniforms[r]}. A row without a finite maximum draws id 0 and sets {@code status[0] = 1}.
     *
     * @param logits   fp32 [rows][vocab]
     * @param probs    fp32 [rows][vocab]
     * @param uniforms f64 [rows] in [0, 1), or null for distributions only
     * @param tokens   int [rows], or null (with {@code uniforms} null)
     * @param status   int [1], set on failure and never cleared here
     */
    public void distributions(DeviceBuffer logits, int rows, int vocab, float temperature, int topK, float topP,
                              DeviceBuffer probs, DeviceBuffer uniforms, DeviceBuffer tokens, DeviceBuffer status) {
        String shapes = "logits " + logits.name() + " f32[" + rows + "][" + vocab + "] into " + probs.name()
                + (tokens != null ? ", draws into " + tokens.name() : "") + ", temperature " + temperature + ", topK "
                + topK + ", topP " + topP;
        checkParameters(rows, vocab, temperature, topK, topP, shapes);
        if ((uniforms == null) != (tokens == null)) {
            throw new IllegalArgumentException("draws need both uniforms and tokens: " + shapes);
        }
        long cells = (long) rows * vocab;
        CudaKernels.require(logits, cells * 4, shapes);
        CudaKernels.require(probs, cells * 4, shapes);
        CudaKernels.require(status, 4, shapes);
        if (uniforms != null) {
            CudaKernels.require(uniforms, rows * 8L, shapes);
            CudaKernels.require(tokens, rows * 4L, shapes);
        }
        try (KernelArgs args = new KernelArgs().buffer(logits).i32(vocab).f32(1f / temperature).i32(topK).f32(topP)) {
            pointerOrNull(args, uniforms);
            pointerOrNull(args, tokens);
            args.buffer(probs).buffer(status);
            context.launch("qs_sample_rows", rows, 1, THREADS, args, shapes);
        }
    }

    /**
     * The acceptance rule of speculative sampling over a round of {@code g} drafts: accept draft i while
     * {@code u_i * q_i(x_i) < p_i(x_i)}; at the first rejection draw the round's last token from
     * normalize(max(0, p_i - q_i)), after g acceptances from p_g, with {@code uniforms[g]}.
     *
     * @param drafts   int [g]: the drafted tokens
     * @param q        fp32 [g][vocab]: the distributions the drafts were drawn from
     * @param p        fp32 [g + 1][vocab]: the target's at the same positions
     * @param uniforms f64 [g + 1] in [0, 1): the accept tests, then the final draw
     * @param outcome  int [2] := drafts accepted, the round's last token
     */
    public void verify(DeviceBuffer drafts, DeviceBuffer q, DeviceBuffer p, int g, int vocab, DeviceBuffer uniforms,
                       DeviceBuffer outcome) {
        String shapes = "speculative verification of " + g + " drafts over a vocabulary of " + vocab;
        if (g < 0 || vocab <= 0 || vocab > DeviceSampler.MAX_VOCAB) {
            throw new IllegalArgumentException("needs g >= 0 and a vocabulary of 1.." + DeviceSampler.MAX_VOCAB + ": "
                    + shapes);
        }
        if (g > 0) {
            CudaKernels.require(drafts, g * 4L, shapes);
            CudaKernels.require(q, (long) g * vocab * 4, shapes);
        }
        CudaKernels.require(p, (long) (g + 1) * vocab * 4, shapes);
        CudaKernels.require(uniforms, (g + 1) * 8L, shapes);
        CudaKernels.require(outcome, 8, shapes);
        try (KernelArgs args = new KernelArgs().buffer(drafts).buffer(q).buffer(p).i32(g).i32(vocab).buffer(uniforms)
                .buffer(outcome)) {
            context.launch("qs_speculative_verify", 1, 1, THREADS, args, shapes);
        }
    }

    private static void pointerOrNull(KernelArgs args, DeviceBuffer buffer) {
        if (buffer == null) {
            args.i64(0L);
        } else {
            args.buffer(buffer);
        }
    }

    private static void checkParameters(int rows, int vocab, float temperature, int topK, float topP, String shapes) {
        if (rows <= 0) throw new IllegalArgumentException("rows must be >= 1: " + shapes);
        if (vocab <= 0 || vocab > DeviceSampler.MAX_VOCAB) {
            throw new IllegalArgumentException("the device sampler serves vocabularies of 1.." + DeviceSampler.MAX_VOCAB
                    + " ids: " + shapes);
        }
        if (!(temperature > 0f) || Float.isInfinite(temperature) || Float.isInfinite(1f / temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number > 0 with a finite inverse: " + shapes);
        }
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 disables it): " + shapes);
        if (!(topP > 0f && topP <= 1f)) throw new IllegalArgumentException("topP must be in (0, 1]: " + shapes);
    }
}
