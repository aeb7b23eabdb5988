package dev.quantspec.kv;

import dev.quantspec.QuantSpecException;
import dev.quantspec.quant.NibblePlane;
import dev.quantspec.quant.ResidualQuantizer;
import dev.quantspec.tensor.Kernels;
import java.util.Arrays;

/**
 * QuantSpec's hierarchical KV cache: old tokens as residual 4+4-bit codes (upper and lower nibbles
 * in separate planes, one scale and minimum per group), the newest tokens in a full-precision
 * buffer. The draft reads the upper nibbles only (INT4), the target both (INT8); both read the buffer.
 *
 * <p>Positions [0, quantized) are quantized, positions [quantized, length) are in the buffer at
 * index {@code pos - quantized}. Buffer policy:
 * <ul>
 *   <li>The first {@link #accept} ends the prefill of L tokens: when L > 2G the first
 *       {@code L - R - (L mod G)} tokens are quantized and the rest stay in the buffer.</li>
 *   <li>Every later {@code accept} flushes CF1 (the oldest G buffered tokens) while 2G or more
 *       accepted tokens are buffered.</li>
 *   <li>Rollback never touches quantized data: it only moves the end of the buffer.</li>
 * </ul>
 * Keys are grouped per channel over G consecutive tokens, values per token over
 * {@code valueGroupSize} channels.
 */
public final class HierarchicalKvCache implements KvCache {
    private final KvShape shape;
    private final HierarchicalCacheConfig cfg;
    private final int capacity;
    private final int maxRoundPositions;
    private final int valueGroups;     // value groups per head
    private final float invSqrtHeadDim;

    // Quantized part, per layer. Nibble index of (kvHead h, token t, channel c) = (h*capacity + t)*headDim + c.
    private final NibblePlane[] keyUpper, keyLower, valueUpper, valueLower;
    private final float[][] keyParams;   // [layer][((h*maxGroups + g)*headDim + c)*2 + {0: scale, 1: min}]
    private final float[][] valueParams; // [layer][((h*capacity + t)*valueGroups + j)*2 + {0: scale, 1: min}]
    private final int maxGroups;

    // Full-precision buffer, per layer: [bufferCapacity][kvDim]
    private float[][] bufferKeys;
    private float[][] bufferValues;
    private int bufferCapacity;

    private int quantized;   // tokens in the quantized part (a multiple of G)
    private int length;      // accepted tokens
    private int reserved;    // tokens writable in this pass
    private boolean prefillDone;
    private long quantizeNanos;
    private final float[] groupParams = new float[2];

    /**
     * @param capacity          most positions the sequence will reach
     * @param maxRoundPositions most positions one pass appends after the prefill (γ+1), to size the buffer
     */
    public HierarchicalKvCache(KvShape shape, HierarchicalCacheConfig cfg, int capacity, int maxRoundPositions) {
        if (shape.headDim() % 2 != 0) {
            throw new QuantSpecException("the hierarchical cache packs two channels per byte: head_dim must be even, got " + shape.headDim());
        }
        if (shape.headDim() % cfg.valueGroupSize() != 0) {
            throw new QuantSpecException("value group size " + cfg.valueGroupSize() + " must divide head_dim " + shape.headDim());
        }
        this.shape = shape;
        this.cfg = cfg;
        this.capacity = capacity;
        this.maxRoundPositions = maxRoundPositions;
        this.valueGroups = shape.headDim() / cfg.valueGroupSize();
        this.invSqrtHeadDim = (float) (1.0 / Math.sqrt(shape.headDim()));
        this.maxGroups = capacity / cfg.groupSize();
        int layers = shape.layers();
        long nibbles = (long) shape.kvHeads() * capacity * shape.headDim();
        keyUpper = new NibblePlane[layers];
        keyLower = new NibblePlane[layers];
        valueUpper = new NibblePlane[layers];
        valueLower = new NibblePlane[layers];
        keyParams = new float[layers][];
        valueParams = new float[layers][];
        for (int l = 0; l < layers; l++) {
            keyUpper[l] = new NibblePlane(nibbles);
            keyLower[l] = new NibblePlane(nibbles);
            valueUpper[l] = new NibblePlane(nibbles);
            valueLower[l] = new NibblePlane(nibbles);
            keyParams[l] = new float[shape.kvHeads() * Math.max(1, maxGroups) * shape.headDim() * 2];
            valueParams[l] = new float[shape.kvHeads() * capacity * valueGroups * 2];
        }
        resizeBuffer(steadyBufferCapacity());
    }

    /** Room for the most tokens the buffer holds after the prefill: 2G accepted (or R + G - 1) plus one round. */
    private int steadyBufferCapacity() {
        return cfg.steadyBufferCapacity(maxRoundPositions);
    }

    private void resizeBuffer(int tokens) {
        int kvDim = shape.kvDim();
        float[][] k = new float[shape.layers()][tokens * kvDim];
        float[][] v = new float[shape.layers()][tokens * kvDim];
        if (bufferKeys != null) {
            int keep = Math.min(tokens, bufferCapacity) * kvDim;
            for (int l = 0; l < shape.layers(); l++) {
                System.arraycopy(bufferKeys[l], 0, k[l], 0, keep);
                System.arraycopy(bufferValues[l], 0, v[l], 0, keep);
            }
        }
        bufferKeys = k;
        bufferValues = v;
        bufferCapacity = tokens;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int length() {
        return length;
    }

    /** Tokens in the quantized part. */
    public int quantizedLength() {
        return quantized;
    }

    /** Accepted tokens in the full-precision buffer. */
    public int bufferedLength() {
        return length - quantized;
    }

    public HierarchicalCacheConfig config() {
        return cfg;
    }

    /** Time spent quantizing (prefill split and flushes). */
    public long quantizeNanos() {
        return quantizeNanos;
    }

    /**
     * After the prefill, positions that can still be appended before the next flush: a pass over more
     * would let its later positions see a cache the step-by-step target never sees.
     */
    @Override
    public int positionsBeforeViewChange() {
        return prefillDone ? cfg.positionsBeforeFlush(bufferedLength()) : Integer.MAX_VALUE;
    }

    @Override
    public void reserve(int end) {
        if (end > capacity) {
            throw new QuantSpecException("KV cache full: " + end + " positions requested, capacity " + capacity);
        }
        int needed = end - quantized;
        if (needed > bufferCapacity) {
            if (prefillDone) {
                throw new IllegalStateException("buffer overflow: " + needed + " buffered positions requested, room for "
                        + bufferCapacity + " (a pass may append at most " + maxRoundPositions + ")");
            }
            resizeBuffer(needed); // the prefill keeps the whole prompt in full precision until it is split
        }
        reserved = Math.max(reserved, end);
    }

    @Override
    public void write(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        if (pos < quantized || pos >= reserved) {
            throw new IllegalStateException("position " + pos + " is not writable: quantized up to " + quantized
                    + ", reserved up to " + reserved);
        }
        int kvDim = shape.kvDim();
        int at = (pos - quantized) * kvDim;
        System.arraycopy(k, kOff, bufferKeys[layer], at, kvDim);
        System.arraycopy(v, vOff, bufferValues[layer], at, kvDim);
    }

    @Override
    public int scratchSize() {
        // scores [capacity] | value coefficients [capacity] | even/odd query [headDim] | even/odd output [headDim] | minima [valueGroups]
        return 2 * capacity + 2 * shape.headDim() + valueGroups;
    }

    @Override
    public void attend(int layer, int head, int pos, float[] q, int qOff, float[] out, int outOff,
                       float[] scratch, KvView view) {
        int hd = shape.headDim();
        int half = hd / 2;
        int kvh = head / shape.group();
        int visibleQuantized = Math.min(quantized, pos + 1);
        boolean target = view == KvView.TARGET;
        float codeScale = target ? 1f / 16f : 1f;
        int coefAt = capacity;                 // value coefficients of the quantized tokens
        int qEven = 2 * capacity;              // scaled query: even channels, then odd ones
        int qOdd = qEven + half;
        int outEven = qEven + hd;              // code-space output: even channels, then odd ones
        int outOdd = outEven + half;
        int minAt = outEven + hd;              // per value group: sum_t p_t * min_t

        // Scores against quantized keys. Per group g and channel c, k = code*s + m, where code is the
        // upper nibble (draft) or (16u + l - 8)/16 (target); so q.k = sum_c (q_c s_c) code_c + sum_c q_c m_c,
        // and the scaled query and the bias are computed once per group of G tokens.
        int g = cfg.groupSize();
        byte[] ku = keyUpper[layer].bytes();
        byte[] kl = target ? keyLower[layer].bytes() : null;
        float[] kp = keyParams[layer];
        float max = Float.NEGATIVE_INFINITY;
        for (int group = 0; group * g < visibleQuantized; group++) {
            int pBase = ((kvh * maxGroups + group) * hd) * 2;
            float bias = 0f;
            for (int i = 0; i < half; i++) {
                scratch[qEven + i] = q[qOff + 2 * i] * kp[pBase + 4 * i] * codeScale;
                scratch[qOdd + i] = q[qOff + 2 * i + 1] * kp[pBase + 4 * i + 2] * codeScale;
            }
            for (int c = 0; c < hd; c++) {
                bias += q[qOff + c] * kp[pBase + 2 * c + 1];
            }
            int first = group * g;
            int n = Math.min(visibleQuantized, first + g) - first;
            max = AttentionKernels.codeScores(ku, kl, ((kvh * capacity + first) * hd) >> 1, half, n, hd,
                    scratch, qEven, qOdd, bias, invSqrtHeadDim, scratch, first, max);
        }
        // Scores against buffered keys.
        int kvDim = shape.kvDim();
        max = AttentionKernels.scores(q, qOff, bufferKeys[layer], kvh * hd, kvDim, pos + 1 - quantized, hd,
                invSqrtHeadDim, scratch, quantized, max);
        float inv = 1f / Softmax.expInPlace(scratch, pos + 1, max);
        for (int t = 0; t <= pos; t++) {
            scratch[t] *= inv;
        }

        // Weighted values. For a quantized token, v_c = code_c*s_j + m_j within value group j, so the
        // coefficient of the codes is p_t*s_j and the minima add sum_t p_t m_j once per group.
        Arrays.fill(scratch, outEven, minAt + valueGroups, 0f);
        int vg = cfg.valueGroupSize();
        byte[] vu = valueUpper[layer].bytes();
        byte[] vl = target ? valueLower[layer].bytes() : null;
        float[] vp = valueParams[layer];
        for (int j = 0; j < valueGroups; j++) {
            float minSum = 0f;
            for (int t = 0; t < visibleQuantized; t++) {
                int p = ((kvh * capacity + t) * valueGroups + j) * 2;
                scratch[coefAt + t] = scratch[t] * vp[p] * codeScale;
                minSum += scratch[t] * vp[p + 1];
            }
            scratch[minAt + j] = minSum;
            AttentionKernels.codeWeightedSum(vu, vl, (kvh * capacity * hd + j * vg) >> 1, half, visibleQuantized,
                    vg, scratch, coefAt, 1, scratch, outEven + j * vg / 2, outOdd + j * vg / 2);
        }
        for (int i = 0; i < half; i++) {
            out[outOff + 2 * i] = scratch[outEven + i] + scratch[minAt + 2 * i / vg];
            out[outOff + 2 * i + 1] = scratch[outOdd + i] + scratch[minAt + (2 * i + 1) / vg];
        }
        AttentionKernels.weightedSum(scratch, quantized, bufferValues[layer], kvh * hd, kvDim, pos + 1 - quantized, hd,
                out, outOff);
    }

    @Override
    public void accept(int newLength) {
        if (newLength < quantized || newLength > reserved) {
            throw new IllegalStateException("cannot accept " + newLength + " positions: quantized " + quantized
                    + ", reserved " + reserved);
        }
        length = newLength;
        reserved = newLength;
        long start = System.nanoTime();
        if (!prefillDone) {
            prefillDone = true;
            flushOldestGroups(cfg.prefillQuantized(length) / cfg.groupSize());
            resizeBuffer(steadyBufferCapacity()); // give back the prompt-sized buffer
        }
        flushOldestGroups(cfg.groupsToFlush(bufferedLength()));
        quantizeNanos += System.nanoTime() - start;
    }

    /**
     * Quantizes the oldest {@code groups * G} buffered tokens (CF1 in steady state; several groups
     * at the prefill split) and shifts the rest of the buffer down once.
     */
    private void flushOldestGroups(int groups) {
        if (groups <= 0) {
            return;
        }
        int g = cfg.groupSize();
        int hd = shape.headDim();
        int kvDim = shape.kvDim();
        int vg = cfg.valueGroupSize();
        for (int l = 0; l < shape.layers(); l++) {
            float[] bk = bufferKeys[l];
            float[] bv = bufferValues[l];
            for (int i = 0; i < groups; i++) {
                int group = quantized / g + i;
                int first = quantized + i * g;   // absolute position of the group's first token
                int bufBase = i * g * kvDim;     // its place in the buffer
                for (int h = 0; h < shape.kvHeads(); h++) {
                    long tokenBase = (long) (h * capacity + first) * hd;
                    for (int c = 0; c < hd; c++) {
                        // one channel over G tokens: stride kvDim in the buffer, stride headDim in the planes
                        ResidualQuantizer.quantizeGroup(bk, bufBase + h * hd + c, kvDim, g,
                                keyUpper[l], keyLower[l], tokenBase + c, hd, groupParams, 0);
                        int p = ((h * maxGroups + group) * hd + c) * 2;
                        keyParams[l][p] = groupParams[0];
                        keyParams[l][p + 1] = groupParams[1];
                    }
                    for (int t = 0; t < g; t++) {
                        for (int j = 0; j < valueGroups; j++) {
                            ResidualQuantizer.quantizeGroup(bv, bufBase + t * kvDim + h * hd + j * vg, 1, vg,
                                    valueUpper[l], valueLower[l], tokenBase + (long) t * hd + j * vg, 1, groupParams, 0);
                            int p = ((h * capacity + first + t) * valueGroups + j) * 2;
                            valueParams[l][p] = groupParams[0];
                            valueParams[l][p + 1] = groupParams[1];
                        }
                    }
                }
            }
            int shift = groups * g * kvDim;
            int keep = (reserved - quantized) * kvDim - shift;
            System.arraycopy(bk, shift, bk, 0, keep);
            System.arraycopy(bv, shift, bv, 0, keep);
        }
        quantized += groups * g;
    }

    @Override
    public double bytesPerToken() {
        // Per layer and kv head channel: two nibble planes (1 byte) for keys and for values, plus an
        // fp16 scale and minimum per key group channel (amortized over G tokens) and per value group (values
        // that are halves, ResidualQuantizer; held as floats here, stored as half2 on the GPU).
        double perChannel = 2 * 1.0;
        double keyParamsPerToken = 2.0 * Short.BYTES * shape.headDim() / cfg.groupSize();
        double valueParamsPerToken = 2.0 * Short.BYTES * valueGroups;
        return shape.layers() * shape.kvHeads() * (perChannel * shape.headDim() + keyParamsPerToken + valueParamsPerToken);
    }

    /** Upper-nibble code of key channel c of token t (t quantized), for tests. */
    int keyCode(int layer, int kvHead, int t, int c, boolean upper) {
        long i = (long) (kvHead * capacity + t) * shape.headDim() + c;
        return (upper ? keyUpper[layer] : keyLower[layer]).get(i);
    }

    /** Key as the given view reads it, dequantized with the shared formulas, for tests. */
    public float dequantizedKey(int layer, int kvHead, int t, int c, KvView view) {
        if (t >= quantized) {
            return bufferKeys[layer][(t - quantized) * shape.kvDim() + kvHead * shape.headDim() + c];
        }
        long i = (long) (kvHead * capacity + t) * shape.headDim() + c;
        int p = ((kvHead * maxGroups + t / cfg.groupSize()) * shape.headDim() + c) * 2;
        float s = keyParams[layer][p];
        float m = keyParams[layer][p + 1];
        return view == KvView.DRAFT ? ResidualQuantizer.dequant4(keyUpper[layer].get(i), s, m)
                : ResidualQuantizer.dequant8(keyUpper[layer].get(i), keyLower[layer].get(i), s, m);
    }

    /** Value as the given view reads it, for tests. */
    public float dequantizedValue(int layer, int kvHead, int t, int c, KvView view) {
        if (t >= quantized) {
            return bufferValues[layer][(t - quantized) * shape.kvDim() + kvHead * shape.headDim() + c];
        }
        long i = (long) (kvHead * capacity + t) * shape.headDim() + c;
        int p = ((kvHead * capacity + t) * valueGroups + c / cfg.valueGroupSize()) * 2;
        float s = valueParams[layer][p];
        float m = valueParams[layer][p + 1];
        return view == KvView.DRAFT ? ResidualQuantizer.dequant4(valueUpper[layer].get(i), s, m)
                : ResidualQuantizer.dequant8(valueUpper[layer].get(i), valueLower[layer].get(i), s, m);
    }
}
