package dev.quantspec.cuda;

import dev.quantspec.QuantSpecException;

/**
 * CUDA was asked for but cannot be used on this machine: no NVIDIA driver, no device, or a build
 * without kernels. The message says why and what to use instead.
 */
public class CudaUnavailableException extends QuantSpecException {
    public CudaUnavailableException(String message) {
        super(message);
    }

    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
