package dev.quantspec.cuda;

/** A device allocation did not fit; the message names what was being allocated and how many bytes. */
public class DeviceOutOfMemoryException extends CudaException {
    public DeviceOutOfMemoryException(String message, int result) {
        super(message, result);
    }
}
