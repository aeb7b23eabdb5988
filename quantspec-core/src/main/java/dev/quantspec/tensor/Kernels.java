package dev.quantspec.tensor;

import java.nio.ByteBuffer;

/** Dispatches each hot loop to {@link SimdKernels} or {@link ScalarKernels}, decided once at startup. */
public final class Kernels {
    private static final boolean SIMD = Simd.enabled();

    private Kernels() {}

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return SIMD ? SimdKernels.dot(a, aOff, b, bOff, n) : ScalarKernels.dot(a, aOff, b, bOff, n);
    }

    public static float dotBf16(ByteBuffer w, int rowByte, float[] x, int xOff, int n) {
        return SIMD ? SimdKernels.dotBf16(w, rowByte, x, xOff, n) : ScalarKernels.dotBf16(w, rowByte, x, xOff, n);
    }

    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        if (SIMD) {
            SimdKernels.axpy(a, x, xOff, y, yOff, n);
        } else {
            ScalarKernels.axpy(a, x, xOff, y, yOff, n);
        }
    }

    public static float sumOfSquares(float[] x, int off, int n) {
        return SIMD ? SimdKernels.sumOfSquares(x, off, n) : ScalarKernels.sumOfSquares(x, off, n);
    }

    static boolean simd() {
        return SIMD;
    }
}
