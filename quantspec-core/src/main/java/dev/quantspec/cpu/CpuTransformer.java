package dev.quantspec.cpu;

import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LayerWeights;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.LlamaWeights;
import dev.quantspec.tensor.Kernels;
import dev.quantspec.tensor.WeightMatrix;

/**
 * The Llama forward pass on the CPU, over several consecutive positions at once (a prefill chunk,
 * a verification window, or a single decode token). fp32 arithmetic on the stored weights.
 *
 * <p>One instance runs one pass at a time (the engine serializes requests); the decode loop
 * allocates nothing: activations live in {@link ForwardState}, and the parallel loop bodies are
 * created once and read their arguments from fields.
 *
 * <p>Each position's results do not depend on how many positions share the pass (every matrix
 * kernel is batch-invariant and attention is computed per query), so a verify pass over γ+1
 * positions gives the same logits as γ+1 single steps.
 */
public final class CpuTransformer {
    private final LlamaConfig config;
    private final WorkerPool pool;
    private final Rope rope;
    private final int dim;
    private final int qDim;
    private final int kvDim;
    private final int ffn;
    private final int headDim;

    // Arguments of the pass in progress, read by the parallel loop bodies (one pass at a time).
    private int curLayerIndex;
    private LayerWeights curLayer;
    private int curN;
    private int curPos;
    private KvCache curCache;
    private KvView curView;
    private ForwardState curState;
    private WeightMatrix mmMatrix;
    private float[] mmX;
    private int mmXStride;
    private int mmN;
    private float[] mmOut;
    private int mmOutStride;
    private final WorkerPool.RangeTask qkvTask = this::qkvPart;
    private final WorkerPool.RangeTask attentionTask = this::attentionPart;
    private final WorkerPool.RangeTask gateUpTask = this::gateUpPart;
    private final WorkerPool.RangeTask matMulTask = this::matMulPart;

    public CpuTransformer(LlamaConfig config, WorkerPool pool, int maxPositions) {
        this.config = config;
        this.pool = pool;
        this.dim = config.hiddenSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.ffn = config.intermediateSize();
        this.headDim = config.headDim();
        this.rope = new Rope(headDim, config.ropeTheta(), maxPositions);
    }

    public LlamaConfig config() {
        return config;
    }

    public WorkerPool pool() {
        return pool;
    }

    /**
     * Runs tokens[tokOff .. tokOff+n) at positions [pos, pos+n) through the model.
     * Keys and values are written into {@code cache} (which must have reserved them); attention reads
     * it through {@code view}. Logits land in {@code st.logits}: one row per position when
     * {@code allLogits}, otherwise only the last position's, in row 0.
     */
    public void forward(LlamaWeights w, int[] tokens, int tokOff, int n, int pos,
                        KvCache cache, KvView view, ForwardState st, boolean allLogits) {
        if (allLogits && n > st.logitRows) {
            throw new IllegalArgumentException("logits for " + n + " positions requested, the state holds " + st.logitRows);
        }
        if (n < 1 || n > st.maxPositions) {
            throw new IllegalArgumentException("a pass covers 1.." + st.maxPositions + " positions, got " + n);
        }
        if (pos + n > rope.maxPositions()) {
            throw new IllegalArgumentException("position " + (pos + n - 1) + " is beyond the context of " + rope.maxPositions());
        }
        for (int t = 0; t < n; t++) {
            w.tokenEmbedding().readRow(tokens[tokOff + t], st.x, t * dim);
        }
        for (int l = 0; l < w.layers().length; l++) {
            layer(l, w.layers()[l], n, pos, cache, view, st);
        }
        int first = allLogits ? 0 : n - 1;
        int rows = n - first;
        for (int t = first; t < n; t++) {
            rmsNorm(st.x, t * dim, w.finalNorm(), st.xb, (t - first) * dim);
        }
        matMul(w.lmHead(), st.xb, dim, rows, st.logits, config.vocabSize());
    }

    private void layer(int l, LayerWeights lw, int n, int pos, KvCache cache, KvView view, ForwardState st) {
        int qkvStride = qDim + 2 * kvDim;
        // The parallel loops below read their arguments from these fields (set before each hand-off,
        // which publishes them to the workers), so no lambda is allocated per token.
        curLayerIndex = l;
        curLayer = lw;
        curN = n;
        curPos = pos;
        curCache = cache;
        curView = view;
        curState = st;

        // Attention block: x += Wo · attention(rope(Wq·xb), rope(Wk·xb), Wv·xb)
        for (int t = 0; t < n; t++) {
            rmsNorm(st.x, t * dim, lw.attentionNorm(), st.xb, t * dim);
        }
        pool.parallelFor(qkvStride, qkvTask);
        for (int t = 0; t < n; t++) {
            int base = t * qkvStride;
            rope.apply(st.qkv, base, config.numHeads(), pos + t);
            rope.apply(st.qkv, base + qDim, config.numKvHeads(), pos + t);
            cache.write(l, pos + t, st.qkv, base + qDim, st.qkv, base + qDim + kvDim);
        }
        pool.parallelFor(n * config.numHeads(), attentionTask);
        matMul(lw.wo(), st.att, qDim, n, st.proj, dim);
        addInPlace(st.x, st.proj, n * dim);

        // MLP block: x += Wdown · (silu(Wgate·xb) * (Wup·xb))
        for (int t = 0; t < n; t++) {
            rmsNorm(st.x, t * dim, lw.mlpNorm(), st.xb, t * dim);
        }
        pool.parallelFor(2 * ffn, gateUpTask);
        for (int t = 0; t < n; t++) {
            int g = t * 2 * ffn;
            int h = t * ffn;
            for (int i = 0; i < ffn; i++) {
                float gate = st.gateUp[g + i];
                st.hidden[h + i] = gate / (1f + (float) Math.exp(-gate)) * st.gateUp[g + ffn + i];
            }
        }
        matMul(lw.wDown(), st.hidden, ffn, n, st.proj, dim);
        addInPlace(st.x, st.proj, n * dim);
    }

    /** Q, K and V rows of the fused output range [start, end). */
    private void qkvPart(int part, int start, int end) {
        int stride = qDim + 2 * kvDim;
        ForwardState st = curState;
        rowRange(curLayer.wq(), 0, start, end, st.xb, curN, st.qkv, stride);
        rowRange(curLayer.wk(), qDim, start, end, st.xb, curN, st.qkv, stride);
        rowRange(curLayer.wv(), qDim + kvDim, start, end, st.xb, curN, st.qkv, stride);
    }

    /** Attention of (position, head) pairs [start, end), each part with its own scores row. */
    private void attentionPart(int part, int start, int end) {
        int stride = qDim + 2 * kvDim;
        int heads = config.numHeads();
        ForwardState st = curState;
        float[] scores = st.scores[part];
        for (int i = start; i < end; i++) {
            int t = i / heads;
            int h = i % heads;
            curCache.attend(curLayerIndex, h, curPos + t, st.qkv, t * stride + h * headDim, st.att, t * qDim + h * headDim,
                    scores, curView);
        }
    }

    /** Gate and up rows of the fused output range [start, end). */
    private void gateUpPart(int part, int start, int end) {
        ForwardState st = curState;
        rowRange(curLayer.wGate(), 0, start, end, st.xb, curN, st.gateUp, 2 * ffn);
        rowRange(curLayer.wUp(), ffn, start, end, st.xb, curN, st.gateUp, 2 * ffn);
    }

    private void matMulPart(int part, int start, int end) {
        mmMatrix.matMul(mmX, 0, mmXStride, mmN, mmOut, 0, mmOutStride, start, end);
    }

    /**
     * The rows of {@code m} that fall in the fused output range [start, end), where {@code m}'s rows
     * occupy [base, base + m.rows()) of each output position.
     */
    private static void rowRange(WeightMatrix m, int base, int start, int end,
                                 float[] x, int n, float[] out, int outStride) {
        int lo = Math.max(start, base) - base;
        int hi = Math.min(end, base + m.rows()) - base;
        if (lo < hi) {
            m.matMul(x, 0, m.cols(), n, out, base, outStride, lo, hi);
        }
    }

    /** out[t][r] = W[r] · x[t] for all rows, split across the pool. */
    private void matMul(WeightMatrix m, float[] x, int xStride, int n, float[] out, int outStride) {
        mmMatrix = m;
        mmX = x;
        mmXStride = xStride;
        mmN = n;
        mmOut = out;
        mmOutStride = outStride;
        pool.parallelFor(m.rows(), matMulTask);
    }

    private void rmsNorm(float[] x, int xOff, float[] weight, float[] out, int outOff) {
        float ss = Kernels.sumOfSquares(x, xOff, dim) / dim;
        float inv = (float) (1.0 / Math.sqrt(ss + config.rmsNormEps()));
        for (int i = 0; i < dim; i++) {
            out[outOff + i] = weight[i] * (x[xOff + i] * inv);
        }
    }

    private static void addInPlace(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }
}
