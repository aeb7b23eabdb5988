package dev.quantspec.kv;

import dev.quantspec.QuantSpecException;

/** An fp32 cache: the autoregressive baseline and the reference the quantized cache is compared to. */
public final class FullPrecisionKvCache implements KvCache {
    private final KvShape shape;
    private final int capacity;
    private final float[][] keys;   // [layer][pos * kvDim + kvHead * headDim + c]
    private final float[][] values; // [layer][pos * kvDim + kvHead * headDim + c]
    private final float invSqrtHeadDim;
    private int length;
    private int reserved;

    public FullPrecisionKvCache(KvShape shape, int capacity) {
        this.shape = shape;
        this.capacity = capacity;
        long floats = (long) capacity * shape.kvDim();
        if (floats > Integer.MAX_VALUE) {
            throw new QuantSpecException("a full-precision KV cache of " + capacity + " positions x " + shape.kvDim()
                    + " floats per layer does not fit in one Java array; lower the context length");
        }
        this.keys = new float[shape.layers()][(int) floats];
        this.values = new float[shape.layers()][(int) floats];
        this.invSqrtHeadDim = (float) (1.0 / Math.sqrt(shape.headDim()));
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public void reserve(int end) {
        if (end > capacity) {
            throw new QuantSpecException("KV cache full: " + end + " positions requested, capacity " + capacity);
        }
        reserved = Math.max(reserved, end);
    }

    @Override
    public void write(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        checkWritable(pos);
        int kvDim = shape.kvDim();
        System.arraycopy(k, kOff, keys[layer], pos * kvDim, kvDim);
        System.arraycopy(v, vOff, values[layer], pos * kvDim, kvDim);
    }

    private void checkWritable(int pos) {
        if (pos < 0 || pos >= reserved) {
            throw new IllegalStateException("position " + pos + " is outside the reserved range [0, " + reserved + ")");
        }
    }

    @Override
    public void attend(int layer, int head, int pos, float[] q, int qOff, float[] out, int outOff,
                       float[] scores, KvView view) {
        int hd = shape.headDim();
        int kvDim = shape.kvDim();
        int kvBase = (head / shape.group()) * hd;
        float[] ks = keys[layer];
        float[] vs = values[layer];
        float max = AttentionKernels.scores(q, qOff, ks, kvBase, kvDim, pos + 1, hd, invSqrtHeadDim,
                scores, 0, Float.NEGATIVE_INFINITY);
        float inv = 1f / Softmax.expInPlace(scores, pos + 1, max);
        for (int t = 0; t <= pos; t++) {
            scores[t] *= inv;
        }
        java.util.Arrays.fill(out, outOff, outOff + hd, 0f);
        AttentionKernels.weightedSum(scores, 0, vs, kvBase, kvDim, pos + 1, hd, out, outOff);
    }

    @Override
    public void accept(int newLength) {
        if (newLength < 0 || newLength > reserved) {
            throw new IllegalStateException("cannot accept " + newLength + " positions: " + reserved + " reserved");
        }
        length = newLength;
        reserved = newLength;
    }

    @Override
    public double bytesPerToken() {
        return 2.0 * shape.layers() * shape.kvDim() * Float.BYTES;
    }
}
