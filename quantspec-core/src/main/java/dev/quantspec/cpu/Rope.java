package dev.quantspec.cpu;

/**
 * Rotary position embedding in the Hugging Face "rotate half" convention: channel i is paired with
 * channel i + headDim/2 (not with its neighbour, as in the original Meta code).
 */
final class Rope {
    private final int headDim;
    private final float[] cos; // [maxPositions][headDim/2]
    private final float[] sin; // [maxPositions][headDim/2]
    private final int maxPositions;

    Rope(int headDim, float theta, int maxPositions) {
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        int half = headDim / 2;
        cos = new float[maxPositions * half];
        sin = new float[maxPositions * half];
        for (int i = 0; i < half; i++) {
            // inv_freq rounded as Hugging Face computes it, in fp32: 1 / fp32(theta^(2i/d))
            float invFreq = 1f / (float) Math.pow(theta, (2.0 * i) / headDim);
            for (int p = 0; p < maxPositions; p++) {
                float angle = p * invFreq;
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
    }

    int maxPositions() {
        return maxPositions;
    }

    /** Rotates {@code heads} consecutive heads of {@code x} starting at {@code off}, for position {@code pos}. */
    void apply(float[] x, int off, int heads, int pos) {
        int half = headDim / 2;
        int base = pos * half;
        for (int h = 0; h < heads; h++) {
            int o = off + h * headDim;
            for (int i = 0; i < half; i++) {
                float c = cos[base + i];
                float s = sin[base + i];
                float a = x[o + i];
                float b = x[o + i + half];
                x[o + i] = a * c - b * s;
                x[o + i + half] = b * c + a * s;
            }
        }
    }
}
