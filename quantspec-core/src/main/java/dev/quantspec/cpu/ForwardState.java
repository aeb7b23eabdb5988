package dev.quantspec.cpu;

import dev.quantspec.model.LlamaConfig;

/**
 * The activations of one forward pass over up to {@code maxPositions} positions at once, allocated
 * once per request so that the decode loop allocates nothing.
 */
public final class ForwardState {
    final int maxPositions;
    final float[] x;      // [maxPositions][dim] residual stream
    final float[] xb;     // [maxPositions][dim] normalized input of a block
    final float[] qkv;    // [maxPositions][qDim + 2*kvDim] q | k | v of each position
    final float[] att;    // [maxPositions][qDim] attention output
    final float[] proj;   // [maxPositions][dim] output projection / MLP output
    final float[] gateUp; // [maxPositions][2*ffn] gate | up of each position
    final float[] hidden; // [maxPositions][ffn] silu(gate) * up
    final float[][] scores; // [threads][capacity] attention scratch, one row per worker
    /** [logitRows][vocab]: logits of the last position, or of every position when asked. */
    public final float[] logits;
    final int logitRows;

    public ForwardState(LlamaConfig c, int maxPositions, int logitRows, int threads, int cacheCapacity) {
        this.maxPositions = maxPositions;
        this.logitRows = logitRows;
        int dim = c.hiddenSize();
        x = new float[maxPositions * dim];
        xb = new float[maxPositions * dim];
        qkv = new float[maxPositions * (c.qDim() + 2 * c.kvDim())];
        att = new float[maxPositions * c.qDim()];
        proj = new float[maxPositions * dim];
        gateUp = new float[maxPositions * 2 * c.intermediateSize()];
        hidden = new float[maxPositions * c.intermediateSize()];
        scores = new float[threads][cacheCapacity];
        logits = new float[logitRows * c.vocabSize()];
    }

    public int maxPositions() {
        return maxPositions;
    }

    public int logitRows() {
        return logitRows;
    }
}
