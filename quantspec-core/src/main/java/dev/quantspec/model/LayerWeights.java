package dev.quantspec.model;

import dev.quantspec.tensor.WeightMatrix;

/** The weights of one decoder layer (dim = hidden size, qDim = heads*headDim, kvDim = kvHeads*headDim). */
public record LayerWeights(
        float[] attentionNorm, // [dim]
        WeightMatrix wq,       // [qDim][dim]
        WeightMatrix wk,       // [kvDim][dim]
        WeightMatrix wv,       // [kvDim][dim]
        WeightMatrix wo,       // [dim][qDim]
        float[] mlpNorm,       // [dim]
        WeightMatrix wGate,    // [ffn][dim]
        WeightMatrix wUp,      // [ffn][dim]
        WeightMatrix wDown) {  // [dim][ffn]

    /** The same layer with its matrices replaced through {@code f} (norms are shared, never copied). */
    public LayerWeights mapMatrices(Projection.Mapper f) {
        return new LayerWeights(attentionNorm,
                f.map(Projection.Q, wq), f.map(Projection.K, wk), f.map(Projection.V, wv), f.map(Projection.O, wo),
                mlpNorm,
                f.map(Projection.GATE, wGate), f.map(Projection.UP, wUp), f.map(Projection.DOWN, wDown));
    }

    public long matrixBytes() {
        return wq.byteSize() + wk.byteSize() + wv.byteSize() + wo.byteSize()
                + wGate.byteSize() + wUp.byteSize() + wDown.byteSize();
    }
}
