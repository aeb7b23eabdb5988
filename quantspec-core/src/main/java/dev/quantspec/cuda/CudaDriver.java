package dev.quantspec.cuda;

import org.bytedeco.javacpp.PointerPointer;

import static org.bytedeco.cuda.global.cudart.cuGetErrorName;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;

/** Turns CUresult codes into exceptions. Every driver call in this package goes through {@link #check}. */
final class CudaDriver {
    static final int CUDA_SUCCESS = 0;
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    static final int CUDA_ERROR_NO_DEVICE = 100;

    private CudaDriver() {}

    /**
     * Throws unless {@code result} is CUDA_SUCCESS.
     *
     * @param call    the driver function, as in the CUDA documentation
     * @param context what it was doing, with the shapes involved (shown to the user)
     */
    static void check(int result, String call, String context) {
        if (result != CUDA_SUCCESS) {
            throw new CudaException(describe(result, call, context), result);
        }
    }

    static String describe(int result, String call, String context) {
        return call + " failed with " + errorName(result) + " (" + result + ": " + errorText(result) + ")"
                + (context.isEmpty() ? "" : " while " + context);
    }

    static String errorName(int result) {
        try (PointerPointer<?> text = new PointerPointer<>(1)) {
            return cuGetErrorName(result, text) == CUDA_SUCCESS && text.get(0) != null
                    ? text.getString(0) : "CUresult " + result;
        }
    }

    static String errorText(int result) {
        try (PointerPointer<?> text = new PointerPointer<>(1)) {
            return cuGetErrorString(result, text) == CUDA_SUCCESS && text.get(0) != null
                    ? text.getString(0) : "unknown error";
        }
    }
}
