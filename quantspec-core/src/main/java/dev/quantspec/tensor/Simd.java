package dev.quantspec.tensor;

/**
 * Whether the SIMD kernels (Java Vector API, an incubator module in Java 17) are used.
 *
 * <p>They are used when the JVM was started with {@code --add-modules jdk.incubator.vector} and
 * {@code -Dquantspec.simd=false} is not set. Without the module every kernel falls back to its
 * scalar reference, which is also what the tests compare the SIMD path against.
 */
public final class Simd {
    private static final boolean ENABLED = detect();

    private Simd() {}

    public static boolean enabled() {
        return ENABLED;
    }

    private static boolean detect() {
        if (!Boolean.parseBoolean(System.getProperty("quantspec.simd", "true"))) {
            return false;
        }
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** One line for logs: which path runs and how wide it is. */
    public static String describe() {
        return ENABLED ? "SIMD (Vector API, " + SimdKernels.floatLanes() + " float lanes)" : "scalar (start the JVM with --add-modules jdk.incubator.vector for SIMD)";
    }
}
