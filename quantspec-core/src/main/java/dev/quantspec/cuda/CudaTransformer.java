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
 * The Llama forward pass on the GPU, one position per call (decode), in the same order as
 * {@code dev.quantspec.cpu.CpuTransformer}: embedding, then per layer RMSNorm, fused QKV GEMV,
 * RoPE, KV append, attention, output projection + residual, RMSNorm, fused gate/up GEMV, SwiGLU,
 * down projection + residual; final RMSNorm, LM head, argmax. bf16 weights, fp32 activations,
 * fp16 KV cache.
 *
 * <p>First slice: prompts are fed one position at a time (no tensor-core prefill yet) and each
 * step is launched kernel by kernel (no CUDA graph yet); see native-kernels/NOTES.md.
 */
public final class CudaTransformer implements AutoCloseable {
    private final CudaContext context;
    private final CudaKernels kernels;
    private final LlamaConfig config;
    private final int maxSeq;
    private final int dim;
    private final int qDim;
    private final int kvDim;
    private final int ffn;
    private final int vocab;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    // Weights (bf16 unless noted)
    private final DeviceBuffer embedding;     // [vocab][dim]
    private final DeviceBuffer lmHead;        // [vocab][dim]; the embedding when tied
    private final DeviceBuffer finalNorm;     // [dim]
    private final DeviceBuffer[] attnNorm;    // [layers][dim]
    private final DeviceBuffer[] wqkv;        // [layers][qDim + 2 kvDim][dim]: rows of q, then k, then v
    private final DeviceBuffer[] wo;          // [layers][dim][qDim]
    private final DeviceBuffer[] mlpNorm;     // [layers][dim]
    private final DeviceBuffer[] wGateUp;     // [layers][2 ffn][dim]: rows of gate, then up
    private final DeviceBuffer[] wDown;       // [layers][dim][ffn]
    private final DeviceBuffer invFreq;       // f32 [headDim / 2]

    // KV cache, fp16
    private final DeviceBuffer[] kCache;      // [layers][kvHeads][maxSeq][headDim]
    private final DeviceBuffer[] vCache;      // [layers][kvHeads][maxSeq][headDim]

    // Activations, fp32
    private final DeviceBuffer x;             // [dim] residual stream
    private final DeviceBuffer xb;            // [dim] normalised input of a block
    private final DeviceBuffer qkv;           // [qDim + 2 kvDim]
    private final DeviceBuffer q, k, v;       // views of qkv
    private final DeviceBuffer att;           // [qDim]
    private final DeviceBuffer proj;          // [dim]
    private final DeviceBuffer gateUp;        // [2 ffn]
    private final DeviceBuffer gate, up;      // views of gateUp
    private final DeviceBuffer hidden;        // [ffn]
    private final DeviceBuffer logits;        // [vocab]
    private final DeviceBuffer token;         // int [1]
    private final DeviceBuffer position;      // int [1]
    private final DeviceBuffer nextToken;     // int [1]
    private final DecodeAttention attention;

    public CudaTransformer(CudaContext context, LlamaConfig config, WeightFiles files, int maxSeq) {
        this.context = context;
        this.kernels = new CudaKernels(context);
        this.config = config;
        this.maxSeq = maxSeq;
        this.dim = config.hiddenSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.ffn = config.intermediateSize();
        this.vocab = config.vocabSize();
        int layers = config.numLayers();
        LlamaTensorNames.validateShapes(config, files);
        try {
            embedding = matrix(files, "embedding", LlamaTensorNames.EMBEDDING);
            lmHead = config.tieWordEmbeddings() ? embedding : matrix(files, "lm head", LlamaTensorNames.LM_HEAD);
            finalNorm = matrix(files, "final norm", LlamaTensorNames.FINAL_NORM);
            attnNorm = new DeviceBuffer[layers];
            wqkv = new DeviceBuffer[layers];
            wo = new DeviceBuffer[layers];
            mlpNorm = new DeviceBuffer[layers];
            wGateUp = new DeviceBuffer[layers];
            wDown = new DeviceBuffer[layers];
            kCache = new DeviceBuffer[layers];
            vCache = new DeviceBuffer[layers];
            long cacheBytes = (long) kvDim * maxSeq * 2;
            for (int l = 0; l < layers; l++) {
                attnNorm[l] = matrix(files, "layer " + l + " attention norm", LlamaTensorNames.attentionNorm(l));
                wqkv[l] = stacked(files, "layer " + l + " qkv", LlamaTensorNames.q(l), LlamaTensorNames.k(l),
                        LlamaTensorNames.v(l));
                wo[l] = matrix(files, "layer " + l + " o", LlamaTensorNames.o(l));
                mlpNorm[l] = matrix(files, "layer " + l + " mlp norm", LlamaTensorNames.mlpNorm(l));
                wGateUp[l] = stacked(files, "layer " + l + " gate/up", LlamaTensorNames.gate(l), LlamaTensorNames.up(l));
                wDown[l] = matrix(files, "layer " + l + " down", LlamaTensorNames.down(l));
                kCache[l] = own(context.allocate("layer " + l + " key cache f16[" + config.numKvHeads() + "][" + maxSeq
                        + "][" + config.headDim() + "]", cacheBytes));
                vCache[l] = own(context.allocate("layer " + l + " value cache f16[" + config.numKvHeads() + "][" + maxSeq
                        + "][" + config.headDim() + "]", cacheBytes));
            }
            float[] freqs = new float[config.headDim() / 2];
            for (int i = 0; i < freqs.length; i++) {
                // as the CPU backend and Hugging Face: 1 / theta^(2i/d), rounded to fp32
                freqs[i] = (float) (1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim()));
            }
            invFreq = own(context.allocate("rope inverse frequencies", freqs.length * 4L));
            invFreq.upload(freqs);
            x = activation("x", dim);
            xb = activation("xb", dim);
            qkv = activation("qkv", qDim + 2 * kvDim);
            q = qkv.view("q", 0, qDim * 4L);
            k = qkv.view("k", qDim * 4L, kvDim * 4L);
            v = qkv.view("v", (qDim + kvDim) * 4L, kvDim * 4L);
            att = activation("attention output", qDim);
            proj = activation("projection", dim);
            gateUp = activation("gate/up", 2 * ffn);
            gate = gateUp.view("gate", 0, ffn * 4L);
            up = gateUp.view("up", ffn * 4L, ffn * 4L);
            hidden = activation("mlp hidden", ffn);
            logits = activation("logits", vocab);
            token = activation("token", 1);
            position = activation("position", 1);
            nextToken = activation("next token", 1);
            attention = new DecodeAttention(context, config.numHeads(), config.numKvHeads(), config.headDim());
        } catch (RuntimeException e) {
            owned.forEach(DeviceBuffer::close);
            throw e;
        }
    }

    public LlamaConfig config() {
        return config;
    }

    /**
     * Runs {@code tokenId} at {@code pos} (its key and value are appended to the cache) and leaves the
     * logits of the next token on the device. Positions must be fed in order from 0.
     *
     * @return the greedy next token (argmax of the logits, computed on the device)
     */
    public int step(int tokenId, int pos) {
        if (pos < 0 || pos >= maxSeq) {
            throw new IllegalArgumentException("position " + pos + " is outside the cache of " + maxSeq + " positions");
        }
        if (tokenId < 0 || tokenId >= vocab) {
            throw new IllegalArgumentException("token " + tokenId + " is outside the vocabulary of " + vocab);
        }
        token.upload(new int[] {tokenId});
        position.upload(new int[] {pos});
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), headDim = config.headDim();
        float eps = config.rmsNormEps();
        kernels.embedding(embedding, token, x, dim, vocab);
        for (int l = 0; l < config.numLayers(); l++) {
            // attention block: x += Wo · attention(rope(q), rope(k), v)
            kernels.rmsNorm(x, attnNorm[l], xb, 1, dim, eps);
            kernels.gemvBf16(wqkv[l], xb, qkv, qDim + 2 * kvDim, dim);
            kernels.rope(q, k, invFreq, position, heads, kvHeads, headDim);
            kernels.kvAppend(k, v, kCache[l], vCache[l], position, kvHeads, headDim, maxSeq);
            attention.run(q, kCache[l], vCache[l], att, pos + 1, maxSeq);
            kernels.gemvBf16(wo[l], att, proj, dim, qDim);
            kernels.addInPlace(x, proj, dim);
            // MLP block: x += Wdown · (silu(Wgate · xb) * (Wup · xb))
            kernels.rmsNorm(x, mlpNorm[l], xb, 1, dim, eps);
            kernels.gemvBf16(wGateUp[l], xb, gateUp, 2 * ffn, dim);
            kernels.swiglu(gate, up, hidden, ffn);
            kernels.gemvBf16(wDown[l], hidden, proj, dim, ffn);
            kernels.addInPlace(x, proj, dim);
        }
        kernels.rmsNorm(x, finalNorm, xb, 1, dim, eps);
        kernels.gemvBf16(lmHead, xb, logits, vocab, dim);
        kernels.argmax(logits, vocab, nextToken);
        return nextToken.downloadInts(1)[0];
    }

    /** The logits of the last {@link #step} (fp32 [vocab]). */
    public float[] logits() {
        return logits.downloadFloats(vocab);
    }

    private DeviceBuffer own(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private DeviceBuffer activation(String name, int floats) {
        return own(context.allocate(name + " f32[" + floats + "]", floats * 4L));
    }

    private DeviceBuffer matrix(WeightFiles files, String what, String name) {
        return stacked(files, what, name);
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

    /** Frees every device buffer (weights, cache, activations). */
    @Override
    public void close() {
        attention.close();
        for (int i = owned.size() - 1; i >= 0; i--) {
            owned.get(i).close();
        }
    }
}
