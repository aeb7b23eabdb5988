package dev.quantspec.kv;

/** The exponentiation step shared by every attention implementation, so all of them round alike. */
final class Softmax {
    private Softmax() {}

    /** Replaces {@code s[i]} by {@code exp(s[i] - max)} for i < n and returns their sum. */
    static float expInPlace(float[] s, int n, float max) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(s[i] - max);
            s[i] = e;
            sum += e;
        }
        return sum;
    }
}
