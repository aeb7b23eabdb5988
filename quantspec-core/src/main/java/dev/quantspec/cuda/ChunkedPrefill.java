package dev.quantspec.cuda;

import dev.quantspec.model.LlamaConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Prefill of a prompt in chunks of up to {@code chunk} positions: each chunk goes through every
 * layer as matrices, so the projections and both attention products are tensor-core GEMMs
 * ({@link TensorCoreGemm}) instead of one GEMV pass over all the weights per position.
 *
 * <p>Per layer and chunk of P positions starting at cache position s: RMSNorm (bf16 out), QKV GEMM,
 * RoPE + KV-cache append of the P positions, scores = Q K^T / sqrt(d) over cache positions [0, s + P)
 * (one strided-batched GEMM per kv head group), causal softmax, heads = probs V (batched GEMM),
 * output GEMM accumulated into the fp32 residual, RMSNorm, gate/up GEMM, SwiGLU, down GEMM
 * accumulated into the residual. The caller turns the last position's hidden state into logits with
 * the decode step's own final norm, LM head and argmax (logits only for the last position).
 *
 * <p>Numerics against the step-by-step path: the residual stream and every accumulation stay fp32;
 * GEMM inputs are rounded to bf16 (activations; weights are bf16 already) or fp16 (queries, softmax
 * probabilities; keys and values are the fp16 cache either way). See native-kernels/prefill.cuh.
 *
 * <p>Memory: the score and probability matrices of one chunk span the whole cache, fp32 + fp16
 * [nHeads][chunk][maxSeq] (6 bytes each: 3 GiB for 32 heads, chunk 512, 32K positions); they are
 * allocated on the first prefill, so a decode-only model never pays for them.
 */
final class ChunkedPrefill implements AutoCloseable {
    /** The model's device tensors that prefill reads (weights) and writes (the KV cache). */
    record Weights(DeviceBuffer embedding, DeviceBuffer invFreq, DeviceBuffer[] attnNorm, DeviceBuffer[] wqkv,
                   DeviceBuffer[] wo, DeviceBuffer[] mlpNorm, DeviceBuffer[] wGateUp, DeviceBuffer[] wDown,
                   DeviceBuffer[] kCache, DeviceBuffer[] vCache) {}

    private static final int THREADS = 256;

    private final CudaContext context;
    private final TensorCoreGemm gemm;
    private final LlamaConfig config;
    private final Weights weights;
    private final int maxSeq;
    private final int chunk;
    private final int dim, qDim, kvDim, qkvDim, ffn, nHeads, nKvHeads, headDim, group;
    private final int scoreLd;                 // row length of scores/probs: maxSeq rounded up to 8 (16-byte rows for cuBLAS)
    private final List<DeviceBuffer> owned = new ArrayList<>();

    private final DeviceBuffer tokens;         // int [maxSeq]: the whole prompt, uploaded once
    private final DeviceBuffer x;              // f32 [chunk][dim] residual stream
    private final DeviceBuffer xn;             // bf16 [chunk][dim] normalised block input
    private final DeviceBuffer qkv;            // f32 [chunk][qDim + 2 kvDim]
    private final DeviceBuffer q16;            // f16 [nHeads][chunk][headDim] rotated queries
    private final DeviceBuffer scores;         // f32 [nHeads][chunk][scoreLd]
    private final DeviceBuffer probs;          // f16 [nHeads][chunk][scoreLd]
    private final DeviceBuffer heads;          // f32 [nHeads][chunk][headDim] attention output per head
    private final DeviceBuffer att;            // bf16 [chunk][qDim] attention output in rows
    private final DeviceBuffer gateUp;         // f32 [chunk][2 ffn]
    private final DeviceBuffer hidden;         // bf16 [chunk][ffn] SwiGLU output

    ChunkedPrefill(CudaContext context, LlamaConfig config, Weights weights, int maxSeq, int chunk) {
        if (chunk <= 0) throw new IllegalArgumentException("the prefill chunk must hold at least one position, not " + chunk);
        this.context = context;
        this.config = config;
        this.weights = weights;
        this.maxSeq = maxSeq;
        this.chunk = Math.min(chunk, maxSeq);
        this.dim = config.hiddenSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.qkvDim = qDim + 2 * kvDim;
        this.ffn = config.intermediateSize();
        this.nHeads = config.numHeads();
        this.nKvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        this.group = nHeads / nKvHeads;
        this.scoreLd = CudaKernels.roundUp(maxSeq, 8);
        int p = this.chunk;
        this.gemm = new TensorCoreGemm(context);
        try {
            tokens = own("prefill tokens int[" + maxSeq + "]", maxSeq * 4L);
            x = own("prefill x f32[" + p + "][" + dim + "]", (long) p * dim * 4);
            xn = own("prefill normed bf16[" + p + "][" + dim + "]", (long) p * dim * 2);
            qkv = own("prefill qkv f32[" + p + "][" + qkvDim + "]", (long) p * qkvDim * 4);
            q16 = own("prefill queries f16[" + nHeads + "][" + p + "][" + headDim + "]", (long) nHeads * p * headDim * 2);
            scores = own("prefill scores f32[" + nHeads + "][" + p + "][" + scoreLd + "]", (long) nHeads * p * scoreLd * 4);
            probs = own("prefill probabilities f16[" + nHeads + "][" + p + "][" + scoreLd + "]",
                    (long) nHeads * p * scoreLd * 2);
            heads = own("prefill heads f32[" + nHeads + "][" + p + "][" + headDim + "]", (long) nHeads * p * headDim * 4);
            att = own("prefill attention bf16[" + p + "][" + qDim + "]", (long) p * qDim * 2);
            gateUp = own("prefill gate/up f32[" + p + "][" + 2 * ffn + "]", (long) p * 2 * ffn * 4);
            hidden = own("prefill mlp hidden bf16[" + p + "][" + ffn + "]", (long) p * ffn * 2);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    int chunk() {
        return chunk;
    }

    /**
     * Runs {@code prompt} at cache positions {@code start, start + 1, ...} through every layer (the KV
     * cache gets all of them) and leaves the hidden state of the last position, before the final norm,
     * in {@code lastHidden} f32 [dim]. The caller checks the tokens and that the prompt fits the cache.
     */
    void run(int[] prompt, int start, DeviceBuffer lastHidden) {
        tokens.upload(prompt);
        int count = 0;
        for (int from = 0; from < prompt.length; from += count) {
            count = Math.min(chunk, prompt.length - from);
            runChunk(from, count, start + from);
        }
        context.copy(x.view("last prefill row", (long) (count - 1) * dim * 4, dim * 4L), lastHidden, dim * 4L);
    }

    /** Positions [pos, pos + rows) of the cache, prompt tokens [from, from + rows). */
    private void runChunk(int from, int rows, int pos) {
        float eps = config.rmsNormEps();
        String shapes = "chunk of " + rows + " positions at " + pos;
        try (KernelArgs a = new KernelArgs().buffer(weights.embedding()).buffer(tokens.view("chunk tokens", from * 4L, rows * 4L))
                .buffer(x).i32(dim).i32(config.vocabSize())) {
            context.launch("qs_prefill_embedding_bf16", CudaKernels.ceilDiv(dim, THREADS), rows, THREADS, a, shapes);
        }
        int ctx = pos + rows;                      // cache positions the chunk's last query sees
        int ld = CudaKernels.roundUp(ctx, 8);
        for (int l = 0; l < config.numLayers(); l++) {
            // attention block
            rmsNorm(weights.attnNorm()[l], rows, eps, shapes);
            gemm.linear(xn, weights.wqkv()[l], qkv, rows, qkvDim, dim, false);
            try (KernelArgs a = new KernelArgs().buffer(qkv).buffer(weights.invFreq()).buffer(q16)
                    .buffer(weights.kCache()[l]).buffer(weights.vCache()[l]).i32(pos).i32(rows).i32(nHeads)
                    .i32(nKvHeads).i32(headDim).i32(maxSeq)) {
                context.launch("qs_prefill_rope_append", rows, nHeads + nKvHeads, CudaKernels.roundUp(headDim / 2, 32),
                        a, shapes);
            }
            long kvStride = (long) maxSeq * headDim;
            int groupRows = group * rows;          // the query heads of one kv head, stacked
            gemm.batchedF16(nKvHeads, groupRows, ctx, headDim, (float) (1.0 / Math.sqrt(headDim)), true,
                    q16, headDim, (long) groupRows * headDim,
                    weights.kCache()[l], headDim, kvStride,
                    scores, ld, (long) groupRows * ld, "layer " + l + " scores, " + shapes);
            try (KernelArgs a = new KernelArgs().buffer(scores).buffer(probs).i32(rows).i32(pos).i32(ld)) {
                context.launch("qs_prefill_causal_softmax", nHeads * rows, 1, THREADS, a, shapes);
            }
            gemm.batchedF16(nKvHeads, groupRows, headDim, ctx, 1f, false,
                    probs, ld, (long) groupRows * ld,
                    weights.vCache()[l], headDim, kvStride,
                    heads, headDim, (long) groupRows * headDim, "layer " + l + " probs . V, " + shapes);
            try (KernelArgs a = new KernelArgs().buffer(heads).buffer(att).i32(rows).i32(nHeads).i32(headDim)) {
                context.launch("qs_prefill_gather_heads", rows, nHeads, CudaKernels.roundUp(headDim, 32), a, shapes);
            }
            gemm.linear(att, weights.wo()[l], x, rows, dim, qDim, true);
            // MLP block
            rmsNorm(weights.mlpNorm()[l], rows, eps, shapes);
            gemm.linear(xn, weights.wGateUp()[l], gateUp, rows, 2 * ffn, dim, false);
            try (KernelArgs a = new KernelArgs().buffer(gateUp).buffer(hidden).i32(rows).i32(ffn)) {
                int blocks = Math.min(CudaKernels.ceilDiv((long) rows * ffn, THREADS), context.multiprocessorCount() * 16);
                context.launch("qs_prefill_swiglu_bf16", blocks, 1, THREADS, a, shapes);
            }
            gemm.linear(hidden, weights.wDown()[l], x, rows, dim, ffn, true);
        }
    }

    private void rmsNorm(DeviceBuffer weight, int rows, float eps, String shapes) {
        try (KernelArgs a = new KernelArgs().buffer(x).buffer(weight).buffer(xn).i32(dim).f32(eps)) {
            context.launch("qs_rmsnorm_bf16_out", rows, 1, CudaKernels.RMSNORM_THREADS, a, shapes);
        }
    }

    private DeviceBuffer own(String what, long bytes) {
        DeviceBuffer b = context.allocate(what, bytes);
        owned.add(b);
        return b;
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
        owned.clear();
        gemm.close();
    }
}
