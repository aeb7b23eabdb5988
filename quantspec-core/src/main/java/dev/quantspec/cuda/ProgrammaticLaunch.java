package dev.quantspec.cuda;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which kernels may be launched with programmatic dependent launch (Hopper and later): such a kernel
 * may begin while the previous kernel on the stream is finishing, because it calls
 * {@code qs_wait_prior_grid()} (common.cuh) before it touches anything an earlier kernel writes or
 * reads. Its launch, and its loads of weights placed before the wait, then overlap the previous
 * kernel's tail; in a decode pass of a few hundred short kernels those boundaries add up (1.2-1.5% per
 * pass on an H200). The list is not kept by hand: the native-kernels build writes the kernels whose
 * compute_90 PTX holds the wait ({@link #RESOURCE}), so a kernel without it (the quantized attention,
 * cuBLAS, quantizers, the sampler) always keeps the ordinary full ordering, which is always correct.
 * Switched off with {@code -Dquantspec.cuda.programmaticLaunch=false} (to measure what it gives).
 */
final class ProgrammaticLaunch {
    static final String RESOURCE = "dev/quantspec/kernels/prior-grid-waiters.txt";
    private static final Set<String> WAITERS = load(RESOURCE);

    private ProgrammaticLaunch() {
    }

    static boolean enabledByDefault() {
        return Boolean.parseBoolean(System.getProperty("quantspec.cuda.programmaticLaunch", "true"));
    }

    /** Whether {@code kernel} waits for the previous grid itself (listed by the kernel build). */
    static boolean waitsForPriorGrid(String kernel) {
        return WAITERS.contains(kernel);
    }

    /** The kernel names of a waiter list, one per line; none when the resource is absent (no kernels built). */
    static Set<String> load(String resource) {
        try (InputStream in = ProgrammaticLaunch.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) return Set.of();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                return reader.lines().map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the kernel list " + resource, e);
        }
    }
}
