package dev.quantspec.tensor;

import java.nio.ByteBuffer;

/**
 * Scalar reference implementations of the hot loops. They define the results the SIMD kernels
 * are tested against, and they run when the Vector API is unavailable.
 */
public final class ScalarKernels {
    private ScalarKernels() {}

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /** dot(bf16 row at byte offset {@code rowByte} of {@code w}, x[xOff .. xOff+n)). */
    public static float dotBf16(ByteBuffer w, int rowByte, float[] x, int xOff, int n) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float wi = Float.intBitsToFloat((w.getShort(rowByte + 2 * i) & 0xFFFF) << 16);
            sum += wi * x[xOff + i];
        }
        return sum;
    }

    /** y[yOff + i] += a * x[xOff + i]. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    public static float sumOfSquares(float[] x, int off, int n) {
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            sum += x[off + i] * x[off + i];
        }
        return sum;
    }
}
