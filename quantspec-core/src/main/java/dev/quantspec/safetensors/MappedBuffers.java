package dev.quantspec.safetensors;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Releases memory mappings deterministically. Java 17 unmaps a {@link MappedByteBuffer} only when
 * it is garbage-collected, which can keep gigabytes of weights mapped long after a model is
 * closed; {@code sun.misc.Unsafe.invokeCleaner} (module jdk.unsupported) is the one supported-in-
 * practice way to unmap now. It is looked up reflectively so that the engine still works, falling
 * back to the garbage collector, on a runtime without jdk.unsupported.
 */
final class MappedBuffers {
    private static final Logger LOG = LoggerFactory.getLogger(MappedBuffers.class);

    /** {@code unsafe.invokeCleaner(ByteBuffer)} bound to the Unsafe instance, or null if unavailable. */
    private static final MethodHandle INVOKE_CLEANER = findInvokeCleaner();

    private MappedBuffers() {}

    private static MethodHandle findInvokeCleaner() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            Object unsafe = theUnsafe.get(null);
            return MethodHandles.lookup()
                    .findVirtual(unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
                    .bindTo(unsafe);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("sun.misc.Unsafe.invokeCleaner is unavailable ({}); model files will stay mapped "
                    + "until the garbage collector releases them", e.toString());
            return null;
        }
    }

    /** True when {@link #unmap} releases mappings at once rather than leaving them to the GC. */
    static boolean canUnmapNow() {
        return INVOKE_CLEANER != null;
    }

    /**
     * Unmaps {@code buffer} now. The caller guarantees that nothing reads it (or any duplicate of
     * it) afterwards: such a read would touch unmapped memory and crash the JVM.
     */
    static void unmap(MappedByteBuffer buffer) {
        if (INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invokeExact((ByteBuffer) buffer);
        } catch (Throwable e) {
            // invokeCleaner only throws for slices/duplicates, which are never passed here.
            throw new IllegalStateException("cannot unmap a mapped tensor buffer", e);
        }
    }
}
