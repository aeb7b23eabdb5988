package dev.quantspec.cuda;

import dev.quantspec.QuantSpecException;

/** A CUDA driver call failed; the message names the call, the CUresult and what it was doing. */
public class CudaException extends QuantSpecException {
    private final int result;

    public CudaException(String message, int result) {
        super(message);
        this.result = result;
    }

    /** The driver's CUresult code (for example 2 = CUDA_ERROR_OUT_OF_MEMORY). */
    public int result() {
        return result;
    }
}
