package dev.quantspec.cuda;

/**
 * What {@link CudaQuantSpecModel#sampledRound} keeps between rounds: the device-resident draft and
 * target distributions, the round's uniform numbers and one graph per number of drafts (the failure
 * flag lives in the round's own int buffer, so it comes back with the round's tokens). The sampling parameters are arguments of the captured kernels, so the graphs belong to one
 * parameter set; another set recaptures them. Made on the first sampled round, so greedy-only use pays
 * nothing for it.
 */
final class SampledRounds implements AutoCloseable {
    /** The parameters captured in the graphs. */
    record Params(float temperature, int topK, float topP) {}

    private final CudaContext context;
    private final DeviceSpeculativeSampling sampling;
    private final int vocab;
    private final DeviceBuffer draftDists;   // fp32 [max(1, maxPass - 1)][vocab]: q of each draft step
    private final DeviceBuffer targetDists;  // fp32 [maxPass][vocab]: p of each verified row
    private final DeviceBuffer uniforms;     // f64 [2 maxPass]: the draws, the accept tests, the final draw
    private final CudaContext.Graph[] graphs; // by drafts, for `captured`
    private Params captured;

    SampledRounds(CudaContext context, int maxPass, int vocab) {
        this.context = context;
        this.sampling = new DeviceSpeculativeSampling(context);
        this.vocab = vocab;
        this.graphs = new CudaContext.Graph[maxPass];
        DeviceBuffer q = null, p = null, u = null;
        try {
            q = context.allocate("draft distributions f32[" + Math.max(1, maxPass - 1) + "][" + vocab + "]",
                    (long) Math.max(1, maxPass - 1) * vocab * 4);
            p = context.allocate("target distributions f32[" + maxPass + "][" + vocab + "]", (long) maxPass * vocab * 4);
            u = context.allocate("round uniforms f64[" + 2 * maxPass + "]", 2L * maxPass * 8);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : new DeviceBuffer[] {q, p, u}) if (b != null) b.close();
            throw e;
        }
        this.draftDists = q;
        this.targetDists = p;
        this.uniforms = u;
    }

    DeviceSpeculativeSampling sampling() {
        return sampling;
    }

    /** The graph of a round of {@code drafts} drafts under {@code params}, captured from {@code launch} on first use. */
    CudaContext.Graph graph(Params params, int drafts, Runnable launch) {
        if (!params.equals(captured)) {
            closeGraphs();
            captured = params;
        }
        if (graphs[drafts] == null) graphs[drafts] = context.captureGraph(launch);
        return graphs[drafts];
    }

    void upload(double[] roundUniforms) {
        uniforms.upload(roundUniforms);
    }

    DeviceBuffer draftRow(int i) {
        return draftDists.view("draft distribution " + i, (long) i * vocab * 4, vocab * 4L);
    }

    DeviceBuffer draftRows() {
        return draftDists;
    }

    DeviceBuffer targetRows(int rows) {
        return targetDists.view("target distributions 0.." + (rows - 1), 0, (long) rows * vocab * 4);
    }

    /** Uniforms [first, first + n). */
    DeviceBuffer uniforms(int first, int n) {
        return uniforms.view("round uniforms " + first + ".." + (first + n - 1), first * 8L, n * 8L);
    }

    private void closeGraphs() {
        for (int i = 0; i < graphs.length; i++) {
            if (graphs[i] != null) {
                graphs[i].close();
                graphs[i] = null;
            }
        }
    }

    @Override
    public void close() {
        closeGraphs();
        draftDists.close();
        targetDists.close();
        uniforms.close();
    }
}
