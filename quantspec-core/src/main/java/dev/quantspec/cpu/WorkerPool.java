package dev.quantspec.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads that split one loop at a time between them.
 *
 * <p>A decode step issues a few dozen short parallel loops (tens of microseconds each), so the
 * hand-off must cost far less than a ForkJoin task: workers spin briefly on a generation counter
 * before parking, and the calling thread takes a share of the work itself. One pool serves one
 * forward pass at a time; {@link #parallelFor} is not reentrant and must be called by one thread
 * at a time (the engine serializes forward passes on it).
 */
public final class WorkerPool implements AutoCloseable {
    /** A loop body over the index range [start, end); {@code part} < threads() names the share, for scratch buffers. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int part, int start, int end);
    }

    private static final long SPIN_NANOS = 200_000;

    private final Thread[] workers;
    private final int threads;
    private volatile long generation;
    private volatile boolean closed;
    private volatile RangeTask task;
    private volatile int taskSize;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Throwable failure;
    private volatile Thread caller;

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int part = i + 1;
            workers[i] = new Thread(() -> workerLoop(part), "quantspec-cpu-" + part);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code task} over [0, size) split into {@code threads} contiguous parts, and returns when
     * every part is done. An exception thrown by any part is rethrown here.
     */
    public void parallelFor(int size, RangeTask task) {
        if (threads == 1 || size < 2) {
            task.run(0, 0, size);
            return;
        }
        this.task = task;
        this.taskSize = size;
        this.failure = null;
        this.caller = Thread.currentThread();
        pending.set(workers.length);
        generation++; // publishes task and size to the workers
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        runPart(0, task, size);
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (pending.get() > 0) {
            if (System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 50_000);
            }
        }
        this.task = null;
        Throwable t = failure;
        if (t != null) {
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(t);
        }
    }

    private void runPart(int part, RangeTask t, int size) {
        int start = (int) ((long) size * part / threads);
        int end = (int) ((long) size * (part + 1) / threads);
        if (start < end) {
            t.run(part, start, end);
        }
    }

    private void workerLoop(int part) {
        long seen = 0;
        while (!closed) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            try {
                runPart(part, task, taskSize);
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
