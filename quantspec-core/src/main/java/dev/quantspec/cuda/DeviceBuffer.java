package dev.quantspec.cuda;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

import static org.bytedeco.cuda.global.cudart.cuMemFree;
import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoHAsync;
import static org.bytedeco.cuda.global.cudart.cuMemcpyHtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemsetD8Async;
import static org.bytedeco.cuda.global.cudart.cuStreamSynchronize;

/**
 * A block of device memory, owned and freed deterministically by {@link #close()} (views made by
 * {@link #view} share their parent's memory and free nothing). Copies and fills are queued on the
 * context's stream, in order with the kernels, and copies wait for it before they return.
 *
 * <p>Why not the plain synchronous cuMemcpy: it runs on the legacy default stream, which does not
 * wait for our non-blocking stream, so a download could read a result before the kernel that
 * writes it had run (seen on the H200 as a stale argmax, 2026-11-29).
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaContext context;
    private final String name;
    private final long address;    // CUdeviceptr
    private final long bytes;
    private final boolean owner;
    private boolean closed;

    DeviceBuffer(CudaContext context, String name, long address, long bytes) {
        this(context, name, address, bytes, true);
    }

    private DeviceBuffer(CudaContext context, String name, long address, long bytes, boolean owner) {
        this.context = context;
        this.name = name;
        this.address = address;
        this.bytes = bytes;
        this.owner = owner;
    }

    public String name() {
        return name;
    }

    public long bytes() {
        return bytes;
    }

    /** The device address (CUdeviceptr). */
    public long address() {
        ensureOpen();
        return address;
    }

    /** A non-owning window {@code [offset, offset + length)} of this buffer, for example q/k/v of a fused QKV output. */
    public DeviceBuffer view(String viewName, long offset, long length) {
        ensureOpen();
        if (offset < 0 || length <= 0 || offset + length > bytes) {
            throw new IllegalArgumentException("view " + viewName + " [" + offset + ", " + (offset + length)
                    + ") is outside " + name + " (" + bytes + " bytes)");
        }
        return new DeviceBuffer(context, viewName, address + offset, length, false);
    }

    public void upload(float[] values) {
        try (FloatPointer host = new FloatPointer(values)) {
            copyIn(host, values.length * 4L);
        }
    }

    /** Uploads raw 16-bit values (bf16 or fp16 bit patterns). */
    public void upload(short[] values) {
        try (ShortPointer host = new ShortPointer(values)) {
            copyIn(host, values.length * 2L);
        }
    }

    public void upload(double[] values) {
        try (DoublePointer host = new DoublePointer(values)) {
            copyIn(host, values.length * 8L);
        }
    }

    public void upload(int[] values) {
        try (IntPointer host = new IntPointer(values)) {
            copyIn(host, values.length * 4L);
        }
    }

    public void upload(byte[] values) {
        try (BytePointer host = new BytePointer(values)) {
            copyIn(host, values.length);
        }
    }

    /**
     * Copies {@code src} (from its position to its limit; direct or memory-mapped buffers are read in
     * place) to byte {@code dstOffset} of this buffer.
     */
    public void upload(java.nio.ByteBuffer src, long dstOffset) {
        ensureOpen();
        long length = src.remaining();
        if (dstOffset < 0 || dstOffset + length > bytes) {
            throw new IllegalArgumentException("uploading " + length + " bytes at offset " + dstOffset + " overflows "
                    + name + " (" + bytes + " bytes)");
        }
        try (BytePointer host = src.isDirect() ? new BytePointer(src) : new BytePointer(copyOf(src))) {
            CudaDriver.check(cuMemcpyHtoDAsync(address + dstOffset, host, length, context.stream()), "cuMemcpyHtoDAsync",
                    "uploading " + length + " bytes into " + name + " at offset " + dstOffset);
            waitForStream();
        }
    }

    private static byte[] copyOf(java.nio.ByteBuffer src) {
        byte[] copy = new byte[src.remaining()];
        src.duplicate().get(copy);
        return copy;
    }

    public float[] downloadFloats(int count) {
        try (FloatPointer host = new FloatPointer(count)) {
            copyOut(host, count * 4L);
            float[] out = new float[count];
            host.get(out);
            return out;
        }
    }

    public short[] downloadShorts(int count) {
        try (ShortPointer host = new ShortPointer(count)) {
            copyOut(host, count * 2L);
            short[] out = new short[count];
            host.get(out);
            return out;
        }
    }

    public int[] downloadInts(int count) {
        try (IntPointer host = new IntPointer(count)) {
            copyOut(host, count * 4L);
            int[] out = new int[count];
            host.get(out);
            return out;
        }
    }

    /** Sets every byte to {@code value} (tests poison outputs with 0xFF: NaN in fp32, fp16 and bf16). */
    public void fill(byte value) {
        ensureOpen();
        CudaDriver.check(cuMemsetD8Async(address, value, bytes, context.stream()), "cuMemsetD8Async",
                "filling " + name + " (" + bytes + " bytes)");
    }

    private void copyIn(Pointer host, long length) {
        ensureOpen();
        requireFits(length);
        CudaDriver.check(cuMemcpyHtoDAsync(address, host, length, context.stream()), "cuMemcpyHtoDAsync",
                "uploading " + length + " bytes into " + name + " (" + bytes + " bytes)");
        waitForStream();  // the host memory is freed when this returns
    }

    private void copyOut(Pointer host, long length) {
        ensureOpen();
        requireFits(length);
        CudaDriver.check(cuMemcpyDtoHAsync(host, address, length, context.stream()), "cuMemcpyDtoHAsync",
                "downloading " + length + " bytes from " + name + " (" + bytes + " bytes)");
        waitForStream();
    }

    private void waitForStream() {
        CudaDriver.check(cuStreamSynchronize(context.stream()), "cuStreamSynchronize",
                "waiting for a copy to or from " + name + " (or a kernel queued before it)");
    }

    /** Throws unless this buffer holds at least {@code length} bytes; {@code role} names it in the kernel call. */
    void requireFits(long length) {
        if (length > bytes) {
            throw new IllegalArgumentException(name + " holds " + bytes + " bytes, " + length + " are needed");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device buffer " + name + " is already freed");
        }
        context.ensureOpen();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (owner) {
            CudaDriver.check(cuMemFree(address), "cuMemFree", "freeing " + name + " (" + bytes + " bytes)");
        }
    }
}
