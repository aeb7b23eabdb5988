package dev.quantspec.model;

import dev.quantspec.ModelFormatException;
import dev.quantspec.safetensors.DType;
import dev.quantspec.safetensors.TensorData;
import dev.quantspec.safetensors.WeightFiles;
import dev.quantspec.tensor.ArrayMatrix;
import dev.quantspec.tensor.Bf16Matrix;
import dev.quantspec.tensor.WeightMatrix;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * All weights of a Llama model, in whatever formats its matrices have. The draft model of
 * QuantSpec is another {@code LlamaWeights} that shares the embedding, the norms and the LM head
 * with the target and swaps some matrices for 4-bit ones.
 */
public record LlamaWeights(
        WeightMatrix tokenEmbedding, // [vocab][dim]
        LayerWeights[] layers,       // [numLayers]
        float[] finalNorm,           // [dim]
        WeightMatrix lmHead) {       // [vocab][dim]; the embedding itself when tied

    /** Maps the weights of {@code files} without copying bf16 matrices (f16/f32 become heap fp32). */
    public static LlamaWeights load(LlamaConfig config, WeightFiles files) {
        LlamaTensorNames.validateShapes(config, files);
        LayerWeights[] layers = new LayerWeights[config.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new LayerWeights(
                    vector(files, LlamaTensorNames.attentionNorm(i)),
                    matrix(files, LlamaTensorNames.q(i)),
                    matrix(files, LlamaTensorNames.k(i)),
                    matrix(files, LlamaTensorNames.v(i)),
                    matrix(files, LlamaTensorNames.o(i)),
                    vector(files, LlamaTensorNames.mlpNorm(i)),
                    matrix(files, LlamaTensorNames.gate(i)),
                    matrix(files, LlamaTensorNames.up(i)),
                    matrix(files, LlamaTensorNames.down(i)));
        }
        WeightMatrix embedding = matrix(files, LlamaTensorNames.EMBEDDING);
        WeightMatrix lmHead = config.tieWordEmbeddings() ? embedding : matrix(files, LlamaTensorNames.LM_HEAD);
        return new LlamaWeights(embedding, layers, vector(files, LlamaTensorNames.FINAL_NORM), lmHead);
    }

    /** A copy whose layer matrices are replaced through {@code f}; embedding, norms and head are shared. */
    public LlamaWeights mapLayerMatrices(Projection.Mapper f) {
        LayerWeights[] mapped = Arrays.stream(layers).map(l -> l.mapMatrices(f)).toArray(LayerWeights[]::new);
        return new LlamaWeights(tokenEmbedding, mapped, finalNorm, lmHead);
    }

    /** Bytes of all matrices; a tied head is counted once. */
    public long matrixBytes() {
        long bytes = tokenEmbedding.byteSize() + (lmHead == tokenEmbedding ? 0 : lmHead.byteSize());
        for (LayerWeights l : layers) {
            bytes += l.matrixBytes();
        }
        return bytes;
    }

    private static WeightMatrix matrix(WeightFiles files, String name) {
        TensorData t = files.tensor(name);
        if (t.dtype() == DType.BF16) {
            ByteBuffer[] chunks = new ByteBuffer[t.chunkCount()];
            for (int c = 0; c < chunks.length; c++) {
                chunks[c] = t.chunk(c);
            }
            return new Bf16Matrix(t.rows(), t.cols(), chunks, t.rowsPerChunk());
        }
        // f16 and f32 checkpoints are rare for Llama; they are widened once to heap fp32.
        long n = (long) t.rows() * t.cols();
        if (n > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor " + name + " (" + t.dtype() + ", " + n
                    + " elements) is too large for the fp32 heap path; convert the checkpoint to bf16");
        }
        float[] data = new float[(int) n];
        for (int r = 0; r < t.rows(); r++) {
            t.readRow(r, data, r * t.cols());
        }
        return new ArrayMatrix(t.rows(), t.cols(), data);
    }

    private static float[] vector(WeightFiles files, String name) {
        TensorData t = files.tensor(name);
        float[] out = new float[(int) t.elementCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.getFloat(i);
        }
        return out;
    }
}
