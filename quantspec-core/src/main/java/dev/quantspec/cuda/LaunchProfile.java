package dev.quantspec.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GPU time of every kernel a piece of work launches (benchmarks only: where a pass's time goes). The
 * work runs eagerly, not as a graph, with an event pair around each launch, queued behind a spin kernel
 * so that the kernels run back to back on the GPU instead of waiting for the host. The sum of the
 * kernels against the same work's graph replay shows what the gaps between kernels cost.
 */
public final class LaunchProfile {
    /** The spin that goes first: it outlasts the host's enqueueing of a whole 7B pass with two events per launch. */
    static final int SPIN_MILLIS = 100;

    /** One launch: the kernel, its grid, and its GPU milliseconds. */
    public record Launch(String kernel, String grid, double millis) {}

    private final List<Launch> launches;

    LaunchProfile(List<Launch> launches) {
        this.launches = List.copyOf(launches);
    }

    public List<Launch> launches() {
        return launches;
    }

    public double totalMillis() {
        return launches.stream().mapToDouble(Launch::millis).sum();
    }

    /**
     * One line per (kernel, grid) in order of first launch: launches, total µs, µs per launch, share of
     * the total; then the sum.
     */
    public String table() {
        Map<String, double[]> byKernel = new LinkedHashMap<>();
        for (Launch l : launches) {
            double[] a = byKernel.computeIfAbsent(l.kernel() + " " + l.grid(), k -> new double[2]);
            a[0]++;
            a[1] += l.millis();
        }
        double total = totalMillis();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-72s %6s %10s %9s %6s%n", "kernel grid",
                "count", "total us", "us each", "share"));
        byKernel.forEach((k, a) -> sb.append(String.format(Locale.ROOT, "%-72s %6d %10.1f %9.2f %5.1f%%%n", k,
                (int) a[0], a[1] * 1e3, a[1] * 1e3 / a[0], 100 * a[1] / total)));
        sb.append(String.format(Locale.ROOT, "%-72s %6d %10.1f%n", "sum", launches.size(), total * 1e3));
        return sb.toString();
    }

    /** Collects event pairs while {@link CudaContext#profileLaunches} runs the work. */
    static final class Recorder {
        private record Pending(String kernel, String grid, CudaContext.Event start, CudaContext.Event end) {}

        private final List<Pending> pending = new ArrayList<>();

        void add(String kernel, String grid, CudaContext.Event start, CudaContext.Event end) {
            pending.add(new Pending(kernel, grid, start, end));
        }

        /** Waits for the events, frees them, and returns the timings. */
        LaunchProfile finish() {
            List<Launch> out = new ArrayList<>(pending.size());
            try {
                for (Pending p : pending) out.add(new Launch(p.kernel(), p.grid(), p.end().millisSince(p.start())));
            } finally {
                close();
            }
            return new LaunchProfile(out);
        }

        void close() {
            for (Pending p : pending) {
                p.start().close();
                p.end().close();
            }
            pending.clear();
        }
    }
}
