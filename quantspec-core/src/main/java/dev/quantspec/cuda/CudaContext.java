package dev.quantspec.cuda;

import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUlaunchAttribute;
import org.bytedeco.cuda.cudart.CUlaunchConfig;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.util.HashMap;
import java.util.Map;

import static org.bytedeco.cuda.global.cudart.*;

/**
 * One GPU, its primary context, one stream, and our kernel module. Kernels are launched in order on
 * the stream; {@link #synchronize()} waits for them and reports asynchronous faults. Not thread-safe:
 * one decoding thread owns a context.
 */
public final class CudaContext implements AutoCloseable {
    private final int ordinal;
    private final int device;          // CUdevice handle
    private final CUctx_st context;
    private final CUstream_st stream;
    private final CUmod_st module;
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final String name;
    private final int multiprocessors;
    private final int computeCapability;  // major * 10 + minor
    private boolean checkEveryLaunch = Boolean.getBoolean("quantspec.cuda.syncEveryLaunch");
    private boolean closed;
    private LaunchProfile.Recorder recorder;  // non-null while profileLaunches runs
    // programmatic dependent launch (ProgrammaticLaunch): one reusable launch configuration with its attribute
    private boolean programmaticLaunch;
    private final CUlaunchConfig launchConfig = new CUlaunchConfig();
    private final CUlaunchAttribute programmaticAttribute = new CUlaunchAttribute();

    CudaContext(int ordinal, byte[] fatbin) {
        this.ordinal = ordinal;
        int[] value = new int[1];
        CudaDriver.check(cuDeviceGet(value, ordinal), "cuDeviceGet", "opening CUDA device " + ordinal);
        this.device = value[0];
        this.context = new CUctx_st();
        CudaDriver.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain", "device " + ordinal);
        try {
            CudaDriver.check(cuCtxSetCurrent(context), "cuCtxSetCurrent", "device " + ordinal);
        } catch (CudaException e) {
            cuDevicePrimaryCtxRelease(device);
            throw e;
        }
        byte[] nameBytes = new byte[256];
        CudaDriver.check(cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName", "");
        this.name = new String(nameBytes, 0, indexOfNul(nameBytes)).trim();
        this.multiprocessors = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        this.computeCapability = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10
                + attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.programmaticLaunch = computeCapability >= 90 && ProgrammaticLaunch.enabledByDefault();
        programmaticAttribute.id(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        programmaticAttribute.value().programmaticStreamSerializationAllowed(1);
        this.stream = new CUstream_st();
        CudaDriver.check(cuStreamCreate(stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate", "device " + ordinal);
        this.module = new CUmod_st();
        // cuModuleLoadData reads the image from native memory; a fatbin needs no NUL terminator but a
        // PTX image would, so one is always appended.
        try (BytePointer image = new BytePointer(fatbin.length + 1L)) {
            image.put(fatbin, 0, fatbin.length).put(fatbin.length, (byte) 0);
            int loaded = cuModuleLoadData(module, image);
            if (loaded != CudaDriver.CUDA_SUCCESS) {
                cuStreamDestroy(stream);
                cuDevicePrimaryCtxRelease(device);
            }
            CudaDriver.check(loaded, "cuModuleLoadData",
                    "loading " + KernelImage.RESOURCE + " (" + fatbin.length + " bytes) on " + name
                            + " (compute capability " + computeCapability / 10 + "." + computeCapability % 10
                            + "; the fatbin holds sm_80/86/89/90 code and compute_90 PTX)");
        }
    }

    private static int indexOfNul(byte[] bytes) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) return i;
        }
        return bytes.length;
    }

    private int attribute(int attribute) {
        int[] value = new int[1];
        CudaDriver.check(cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute",
                "reading attribute " + attribute + " of device " + ordinal);
        return value[0];
    }

    public String deviceName() {
        return name;
    }

    public int multiprocessorCount() {
        return multiprocessors;
    }

    /** major * 10 + minor, e.g. 90 for an H100/H200. */
    public int computeCapability() {
        return computeCapability;
    }

    CUstream_st stream() {
        return stream;
    }

    /**
     * Programmatic dependent launch for the kernels that wait for their predecessor themselves
     * ({@link ProgrammaticLaunch}); on by default on compute capability 9.0 and later. Graphs keep the
     * setting they were captured with.
     */
    public void setProgrammaticLaunch(boolean on) {
        this.programmaticLaunch = on && computeCapability >= 90;
    }

    public boolean programmaticLaunch() {
        return programmaticLaunch;
    }

    /** When set, every launch is followed by a synchronize, so a fault names the kernel that caused it. */
    public void setCheckEveryLaunch(boolean check) {
        this.checkEveryLaunch = check;
    }

    /** The kernel {@code name} of our module (looked up once). */
    CUfunc_st function(String kernel) {
        ensureOpen();
        return functions.computeIfAbsent(kernel, k -> {
            CUfunc_st f = new CUfunc_st();
            CudaDriver.check(cuModuleGetFunction(f, module, k), "cuModuleGetFunction",
                    "looking up kernel " + k + " in " + KernelImage.RESOURCE + " (is the fatbin older than the Java code?)");
            return f;
        });
    }

    /** Resident blocks per multiprocessor for {@code kernel} at this block size (the occupancy calculator). */
    int maxActiveBlocksPerMultiprocessor(String kernel, int blockSize) {
        int[] blocks = new int[1];
        CudaDriver.check(cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, function(kernel), blockSize, 0),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor", kernel + " with " + blockSize + " threads");
        return blocks[0];
    }

    /**
     * Launches {@code kernel} on this context's stream.
     *
     * @param shapes a description of the arguments' shapes, shown in any error
     */
    void launch(String kernel, int gridX, int gridY, int blockX, KernelArgs args, String shapes) {
        launch(kernel, gridX, gridY, blockX, 0, args, shapes);
    }

    /** As above, with {@code sharedBytes} of dynamic shared memory per block. */
    void launch(String kernel, int gridX, int gridY, int blockX, int sharedBytes, KernelArgs args, String shapes) {
        ensureOpen();
        if (gridX <= 0 || gridY <= 0 || blockX <= 0 || blockX > 1024) {
            throw new IllegalArgumentException("bad launch of " + kernel + ": grid " + gridX + "x" + gridY
                    + ", block " + blockX + " (" + shapes + ")");
        }
        String where = "launching " + kernel + " grid " + gridX + "x" + gridY + " block " + blockX + " (" + shapes + ")";
        Event start = recorder != null ? recordEvent() : null;
        if (programmaticLaunch && ProgrammaticLaunch.waitsForPriorGrid(kernel)) {
            launchConfig.gridDimX(gridX).gridDimY(gridY).gridDimZ(1).blockDimX(blockX).blockDimY(1).blockDimZ(1)
                    .sharedMemBytes(sharedBytes).hStream(stream).attrs(programmaticAttribute).numAttrs(1);
            CudaDriver.check(cuLaunchKernelEx(launchConfig, function(kernel), args.pointers(), null),
                    "cuLaunchKernelEx", where);
        } else {
            CudaDriver.check(cuLaunchKernel(function(kernel), gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream,
                    args.pointers(), null), "cuLaunchKernel", where);
        }
        if (start != null) recorder.add(kernel, gridX + "x" + gridY, start, recordEvent());
        if (checkEveryLaunch) {
            CudaDriver.check(cuStreamSynchronize(stream), "cuStreamSynchronize", "after " + where);
        }
    }

    /**
     * Runs {@code work} eagerly with every launch timed by an event pair (benchmarks: {@link LaunchProfile}).
     * A spin kernel of {@link LaunchProfile#SPIN_MILLIS} goes first so that the launches queue up behind it
     * and run back to back, as in a graph, rather than at the host's pace.
     */
    public LaunchProfile profileLaunches(Runnable work) {
        int spinMillis = LaunchProfile.SPIN_MILLIS;
        ensureOpen();
        if (recorder != null) throw new IllegalStateException("profileLaunches does not nest");
        synchronize();
        try (KernelArgs args = new KernelArgs().i64(spinMillis * 1_000_000L)) {
            launch("qs_spin", 1, 1, 32, args, spinMillis + " ms");
        }
        LaunchProfile.Recorder r = new LaunchProfile.Recorder();
        recorder = r;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            recorder = null;
            synchronize();
            r.close();
            throw e;
        }
        recorder = null;
        return r.finish();
    }

    /** Waits for all queued work; faults of earlier kernels surface here. */
    public void synchronize() {
        ensureOpen();
        CudaDriver.check(cuStreamSynchronize(stream), "cuStreamSynchronize", "waiting for the GPU");
    }

    /** Allocates {@code bytes} of device memory for {@code what} (named in any error). */
    public DeviceBuffer allocate(String what, long bytes) {
        ensureOpen();
        if (bytes <= 0) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes for " + what);
        }
        try (LongPointer address = new LongPointer(1)) {
            int result = cuMemAlloc(address, bytes);
            if (result == CudaDriver.CUDA_ERROR_OUT_OF_MEMORY) {
                throw new DeviceOutOfMemoryException("out of GPU memory: " + what + " needs " + bytes + " bytes ("
                        + gib(bytes) + " GiB) but " + describeMemory() + " on " + name, result);
            }
            CudaDriver.check(result, "cuMemAlloc", "allocating " + bytes + " bytes for " + what);
            return new DeviceBuffer(this, what, address.get(), bytes);
        }
    }

    private String describeMemory() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            if (cuMemGetInfo(free, total) != CudaDriver.CUDA_SUCCESS) return "the free memory is unknown";
            return "only " + gib(free.get()) + " GiB of " + gib(total.get()) + " GiB are free";
        }
    }

    private static String gib(long bytes) {
        return String.format("%.2f", bytes / (1024.0 * 1024 * 1024));
    }

    /** Device memory that is free right now, in bytes. */
    public long freeMemory() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            CudaDriver.check(cuMemGetInfo(free, total), "cuMemGetInfo", "");
            return free.get();
        }
    }

    /** A GPU-side timer: records an event now on the stream. */
    public Event recordEvent() {
        CUevent_st event = new CUevent_st();
        CudaDriver.check(cuEventCreate(event, CU_EVENT_DEFAULT), "cuEventCreate", "");
        CudaDriver.check(cuEventRecord(event, stream), "cuEventRecord", "");
        return new Event(event);
    }

    /** A recorded point on the stream; {@link #millisSince} gives the GPU time between two events. */
    public static final class Event implements AutoCloseable {
        private final CUevent_st event;
        private boolean destroyed;

        private Event(CUevent_st event) {
            this.event = event;
        }

        public float millisSince(Event start) {
            CudaDriver.check(cuEventSynchronize(event), "cuEventSynchronize", "");
            float[] ms = new float[1];
            CudaDriver.check(cuEventElapsedTime(ms, start.event, event), "cuEventElapsedTime", "");
            return ms[0];
        }

        @Override
        public void close() {
            if (!destroyed) {
                destroyed = true;
                cuEventDestroy(event);
            }
        }
    }

    /**
     * Records the kernels {@code work} launches on this context's stream into a CUDA graph instead of
     * running them; {@link Graph#launch()} then replays them all with one call (no per-kernel launch
     * cost). Buffers and scalar arguments are fixed at capture: values that change per step must be
     * read by the kernels from device memory (positions and tokens are, for that reason).
     */
    public Graph captureGraph(Runnable work) {
        ensureOpen();
        if (checkEveryLaunch) {
            throw new IllegalStateException("cannot capture a graph while every launch is synchronized");
        }
        CudaDriver.check(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture", "");
        CUgraph_st graph = new CUgraph_st();
        try {
            work.run();
        } finally {
            CudaDriver.check(cuStreamEndCapture(stream, graph), "cuStreamEndCapture", "");
        }
        CUgraphExec_st exec = new CUgraphExec_st();
        int result = cuGraphInstantiate(exec, graph, 0L);
        cuGraphDestroy(graph);
        CudaDriver.check(result, "cuGraphInstantiate", "");
        return new Graph(exec);
    }

    /** An instantiated CUDA graph bound to this context's stream. */
    public final class Graph implements AutoCloseable {
        private final CUgraphExec_st exec;
        private boolean destroyed;

        private Graph(CUgraphExec_st exec) {
            this.exec = exec;
        }

        public void launch() {
            ensureOpen();
            CudaDriver.check(cuGraphLaunch(exec, stream), "cuGraphLaunch", "");
        }

        /**
         * GPU ms of one replay (benchmarks): one warm-up replay, then the median of {@code batches}
         * batches of {@code perBatch} back-to-back replays timed with events.
         */
        public double gpuMillisPerLaunch(int perBatch, int batches) {
            launch();
            synchronize();
            double[] ms = new double[batches];
            for (int b = 0; b < batches; b++) {
                try (Event start = recordEvent()) {
                    for (int i = 0; i < perBatch; i++) launch();
                    try (Event end = recordEvent()) {
                        ms[b] = end.millisSince(start) / perBatch;
                    }
                }
            }
            java.util.Arrays.sort(ms);
            return ms[batches / 2];
        }

        @Override
        public void close() {
            if (!destroyed) {
                destroyed = true;
                CudaDriver.check(cuGraphExecDestroy(exec), "cuGraphExecDestroy", "");
            }
        }
    }

    /** Device-to-device copy on the stream (asynchronous), e.g. to replicate benchmark data. */
    public void copy(DeviceBuffer src, DeviceBuffer dst, long bytes) {
        src.requireFits(bytes);
        dst.requireFits(bytes);
        CudaDriver.check(cuMemcpyDtoDAsync(dst.address(), src.address(), bytes, stream), "cuMemcpyDtoDAsync",
                "copying " + bytes + " bytes from " + src.name() + " to " + dst.name());
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the CUDA context of device " + ordinal + " is closed");
        }
    }

    /** Unloads the module, destroys the stream and releases the primary context. Buffers must be closed first. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        int sync = cuStreamSynchronize(stream);
        int unload = cuModuleUnload(module);
        int destroy = cuStreamDestroy(stream);
        int release = cuDevicePrimaryCtxRelease(device);
        launchConfig.close();
        programmaticAttribute.close();
        CudaDriver.check(sync, "cuStreamSynchronize", "closing device " + ordinal);
        CudaDriver.check(unload, "cuModuleUnload", "closing device " + ordinal);
        CudaDriver.check(destroy, "cuStreamDestroy", "closing device " + ordinal);
        CudaDriver.check(release, "cuDevicePrimaryCtxRelease", "closing device " + ordinal);
    }
}
