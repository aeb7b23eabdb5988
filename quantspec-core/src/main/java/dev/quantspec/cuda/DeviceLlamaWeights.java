package dev.quantspec.cuda;

import dev.quantspec.ModelFormatException;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.LlamaTensorNames;
import dev.quantspec.safetensors.DType;
import dev.quantspec.safetensors.TensorData;
import dev.quantspec.safetensors.WeightFiles;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama model's weights in device memory, bf16, laid out for the decode kernels: per layer the
 * q, k and v projections stacked into one matrix (one GEMV reads all three) and gate and up stacked
 * likewise. Shared by the autoregressive model ({@link CudaTransformer}) and the QuantSpec model
 * ({@link CudaQuantSpecModel}) so that one process holds the weights once. Owns its buffers.
 */
public final class DeviceLlamaWeights implements AutoCloseable {
    private final CudaContext context;
    private final LlamaConfig config;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    final DeviceBuffer embedding;     // [vocab][dim]
    final DeviceBuffer lmHead;        // [vocab][dim]; the embedding when tied
    final DeviceBuffer finalNorm;     // [dim]
    final DeviceBuffer[] attnNorm;    // [layers][dim]
    final DeviceBuffer[] wqkv;        // [layers][qDim + 2 kvDim][dim]: rows of q, then k, then v
    final DeviceBuffer[] wo;          // [layers][dim][qDim]
    final DeviceBuffer[] mlpNorm;     // [layers][dim]
    final DeviceBuffer[] wGateUp;     // [layers][2 ffn][dim]: rows of gate, then up
    final DeviceBuffer[] wDown;       // [layers][dim][ffn]
    final DeviceBuffer invFreq;       // f32 [headDim / 2], RoPE inverse frequencies

    /** Where the weight matrices come from: files on the host, or random values made on the device. */
    private interface Source {
        /** A buffer holding the tensors {@code names} (each [rows][cols] bf16) one after another. */
        DeviceBuffer load(DeviceLlamaWeights model, String what, boolean norm, String... names);
    }

    /** The bf16 weights of {@code files}; a non-bf16 tensor is a {@link ModelFormatException}. */
    public static DeviceLlamaWeights fromFiles(CudaContext context, LlamaConfig config, WeightFiles files) {
        LlamaTensorNames.validateShapes(config, files);
        return new DeviceLlamaWeights(context, config, (model, what, norm, names) -> model.stacked(files, what, names));
    }

    /**
     * Random bf16 weights of {@code config}'s shape made on the device: projections uniform in
     * [-0.02, 0.02) (like the PyTorch peer), norms 1; for benchmarks at 7B scale without the files.
     */
    public static DeviceLlamaWeights random(CudaContext context, LlamaConfig config, long seed) {
        CudaKernels kernels = new CudaKernels(context);
        long[] nextSeed = {seed};
        return new DeviceLlamaWeights(context, config, (model, what, norm, names) -> {
            long elements = 0;
            for (String name : names) elements += model.elementsOf(name);
            DeviceBuffer b = model.own(context.allocate(what + " bf16 random (" + String.join(", ", names) + ")",
                    elements * 2));
            kernels.fillRandomBf16(b, elements, nextSeed[0]++, norm ? 1f : 0f, norm ? 0f : 0.02f);
            return b;
        });
    }

    private DeviceLlamaWeights(CudaContext context, LlamaConfig config, Source weights) {
        this.context = context;
        this.config = config;
        int layers = config.numLayers();
        try {
            embedding = weights.load(this, "embedding", false, LlamaTensorNames.EMBEDDING);
            lmHead = config.tieWordEmbeddings() ? embedding : weights.load(this, "lm head", false, LlamaTensorNames.LM_HEAD);
            finalNorm = weights.load(this, "final norm", true, LlamaTensorNames.FINAL_NORM);
            attnNorm = new DeviceBuffer[layers];
            wqkv = new DeviceBuffer[layers];
            wo = new DeviceBuffer[layers];
            mlpNorm = new DeviceBuffer[layers];
            wGateUp = new DeviceBuffer[layers];
            wDown = new DeviceBuffer[layers];
            for (int l = 0; l < layers; l++) {
                attnNorm[l] = weights.load(this, "layer " + l + " attention norm", true, LlamaTensorNames.attentionNorm(l));
                wqkv[l] = weights.load(this, "layer " + l + " qkv", false, LlamaTensorNames.q(l), LlamaTensorNames.k(l),
                        LlamaTensorNames.v(l));
                wo[l] = weights.load(this, "layer " + l + " o", false, LlamaTensorNames.o(l));
                mlpNorm[l] = weights.load(this, "layer " + l + " mlp norm", true, LlamaTensorNames.mlpNorm(l));
                wGateUp[l] = weights.load(this, "layer " + l + " gate/up", false, LlamaTensorNames.gate(l),
                        LlamaTensorNames.up(l));
                wDown[l] = weights.load(this, "layer " + l + " down", false, LlamaTensorNames.down(l));
            }
            float[] freqs = new float[config.headDim() / 2];
            for (int i = 0; i < freqs.length; i++) {
                // as the CPU backend and Hugging Face: 1 / theta^(2i/d), rounded to fp32
                freqs[i] = (float) (1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim()));
            }
            invFreq = own(context.allocate("rope inverse frequencies", freqs.length * 4L));
            invFreq.upload(freqs);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /** Bytes of weights one decode step reads: every matrix and norm once, one embedding row. */
    public long stepBytes() {
        int dim = config.hiddenSize(), qDim = config.qDim(), kvDim = config.kvDim(), ffn = config.intermediateSize();
        long matrices = (long) config.vocabSize() * dim + (long) dim;  // LM head, final norm
        matrices += (long) config.numLayers()
                * ((long) (qDim + 2 * kvDim) * dim + (long) dim * qDim + 3L * ffn * dim + 2L * dim);
        return matrices * 2 + dim * 2L;
    }

    /** The tensors chunked prefill reads, with the KV cache it writes. */
    ChunkedPrefill.Weights forPrefill(DeviceBuffer[] kCache, DeviceBuffer[] vCache) {
        return new ChunkedPrefill.Weights(embedding, invFreq, attnNorm, wqkv, wo, mlpNorm, wGateUp, wDown, kCache, vCache);
    }

    /** Elements of the tensor {@code name} in this model's shape (for random weights). */
    private long elementsOf(String name) {
        int dim = config.hiddenSize();
        if (name.equals(LlamaTensorNames.EMBEDDING) || name.equals(LlamaTensorNames.LM_HEAD)) {
            return (long) config.vocabSize() * dim;
        }
        if (name.equals(LlamaTensorNames.FINAL_NORM)) return dim;
        for (int l = 0; l < config.numLayers(); l++) {
            if (name.equals(LlamaTensorNames.attentionNorm(l)) || name.equals(LlamaTensorNames.mlpNorm(l))) return dim;
            if (name.equals(LlamaTensorNames.q(l))) return (long) config.qDim() * dim;
            if (name.equals(LlamaTensorNames.k(l)) || name.equals(LlamaTensorNames.v(l))) return (long) config.kvDim() * dim;
            if (name.equals(LlamaTensorNames.o(l))) return (long) dim * config.qDim();
            if (name.equals(LlamaTensorNames.gate(l)) || name.equals(LlamaTensorNames.up(l))
                    || name.equals(LlamaTensorNames.down(l))) return (long) config.intermediateSize() * dim;
        }
        throw new IllegalArgumentException("no tensor " + name + " in a Llama model of " + config.numLayers() + " layers");
    }

    private DeviceBuffer own(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    /** The bf16 tensors {@code names}, their rows one after another in one device buffer. */
    private DeviceBuffer stacked(WeightFiles files, String what, String... names) {
        long bytes = 0;
        for (String name : names) {
            TensorData t = files.tensor(name);
            if (t.dtype() != DType.BF16) {
                throw new ModelFormatException("the CUDA backend reads bf16 weights; tensor " + name + " in "
                        + t.file() + " is " + t.dtype() + " (use backend=cpu or a bf16 checkpoint)");
            }
            bytes += t.byteSize();
        }
        DeviceBuffer buffer = own(context.allocate(what + " bf16 (" + String.join(", ", names) + ")", bytes));
        long offset = 0;
        for (String name : names) {
            TensorData t = files.tensor(name);
            for (int c = 0; c < t.chunkCount(); c++) {
                ByteBuffer chunk = t.chunk(c);
                int length = chunk.remaining();
                buffer.upload(chunk, offset);
                offset += length;
            }
        }
        return buffer;
    }

    /** Frees every weight buffer. */
    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
        owned.clear();
    }
}
