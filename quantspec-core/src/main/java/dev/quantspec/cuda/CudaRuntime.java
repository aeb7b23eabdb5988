package dev.quantspec.cuda;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

import static org.bytedeco.cuda.global.cudart.cuDeviceGetCount;
import static org.bytedeco.cuda.global.cudart.cuDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cuInit;

/**
 * The CUDA driver, loaded and initialised once per JVM. Obtaining it is the one place where "no
 * NVIDIA driver here" is detected: the JavaCPP JNI library links against {@code libcuda.so.1}, so
 * on a machine without the driver loading it throws {@link UnsatisfiedLinkError}, which becomes a
 * {@link CudaUnavailableException} with a message a user can act on.
 */
public final class CudaRuntime {
    static final String NO_DRIVER_MESSAGE =
            "no NVIDIA driver (libcuda.so.1) found; use backend=cpu, or run on a machine with an "
                    + "NVIDIA GPU and its driver (CUDA 13 or newer, with /usr/local/cuda/lib64 on LD_LIBRARY_PATH)";

    /** Loads the native libraries; replaced in tests to simulate a machine without a driver. */
    @FunctionalInterface
    interface NativeLoader {
        void load();
    }

    private static final NativeLoader JAVACPP = () -> Loader.load(cudart.class);
    private static CudaRuntime instance;
    private static CudaUnavailableException failure;  // remembered: loading again would fail the same way

    private final int driverVersion;  // e.g. 13000 for CUDA 13.0
    private final int deviceCount;

    private CudaRuntime(int driverVersion, int deviceCount) {
        this.driverVersion = driverVersion;
        this.deviceCount = deviceCount;
    }

    /** The initialised driver; throws {@link CudaUnavailableException} when there is none or no GPU. */
    public static synchronized CudaRuntime get() {
        if (instance == null) {
            if (failure != null) throw failure;
            try {
                instance = load(JAVACPP);
            } catch (CudaUnavailableException e) {
                failure = e;
                throw e;
            }
        }
        return instance;
    }

    /** True when {@link #get()} would succeed; never throws (for backend=auto). */
    public static boolean isAvailable() {
        try {
            get();
            return true;
        } catch (CudaUnavailableException e) {
            return false;
        }
    }

    static CudaRuntime load(NativeLoader loader) {
        try {
            loader.load();
        } catch (UnsatisfiedLinkError e) {
            throw new CudaUnavailableException(NO_DRIVER_MESSAGE + " [" + deepestMessage(e) + "]", e);
        } catch (NoClassDefFoundError e) {
            throw new CudaUnavailableException("the JavaCPP CUDA jars (org.bytedeco:javacpp, org.bytedeco:cuda "
                    + "with the linux-x86_64 classifier) are not on the class path; use backend=cpu", e);
        }
        int init = cuInit(0);
        if (init == CudaDriver.CUDA_ERROR_NO_DEVICE) {
            throw new CudaUnavailableException("the NVIDIA driver is installed but reports no CUDA device "
                    + "(cuInit: CUDA_ERROR_NO_DEVICE); use backend=cpu");
        }
        if (init != CudaDriver.CUDA_SUCCESS) {
            throw new CudaUnavailableException(CudaDriver.describe(init, "cuInit", "initialising the NVIDIA driver")
                    + "; use backend=cpu");
        }
        int[] value = new int[1];
        CudaDriver.check(cuDriverGetVersion(value), "cuDriverGetVersion", "");
        int version = value[0];
        CudaDriver.check(cuDeviceGetCount(value), "cuDeviceGetCount", "");
        if (value[0] == 0) {
            throw new CudaUnavailableException("the NVIDIA driver reports no CUDA device; use backend=cpu");
        }
        return new CudaRuntime(version, value[0]);
    }

    /** JavaCPP wraps the loader's error; the innermost one names the missing library. */
    private static String deepestMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage();
    }

    /** The driver's CUDA version, as major * 1000 + minor * 10 (13000 = CUDA 13.0). */
    public int driverVersion() {
        return driverVersion;
    }

    public int deviceCount() {
        return deviceCount;
    }

    /** Opens device {@code ordinal} with our kernel image loaded. */
    public CudaContext open(int ordinal) {
        if (ordinal < 0 || ordinal >= deviceCount) {
            throw new IllegalArgumentException("CUDA device " + ordinal + " does not exist (this machine has "
                    + deviceCount + ")");
        }
        return new CudaContext(ordinal, KernelImage.load());
    }
}
