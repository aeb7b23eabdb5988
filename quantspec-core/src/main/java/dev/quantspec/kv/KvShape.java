package dev.quantspec.kv;

import dev.quantspec.model.LlamaConfig;

/** The dimensions every cache needs: layers, query heads, kv heads and the head size. */
public record KvShape(int layers, int heads, int kvHeads, int headDim) {
    public KvShape {
        if (layers < 1 || heads < 1 || kvHeads < 1 || headDim < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("invalid cache shape: layers=" + layers + " heads=" + heads
                    + " kvHeads=" + kvHeads + " headDim=" + headDim);
        }
    }

    public static KvShape of(LlamaConfig c) {
        return new KvShape(c.numLayers(), c.numHeads(), c.numKvHeads(), c.headDim());
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Query heads that share one kv head. */
    public int group() {
        return heads / kvHeads;
    }
}
