package dev.quantspec.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void should_cover_every_index_exactly_once_across_many_loops() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int size : new int[] {0, 1, 2, 3, 7, 1000}) {
                for (int repeat = 0; repeat < 200; repeat++) {
                    AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(size, 1));
                    pool.parallelFor(size, (part, start, end) -> {
                        assertThat(part).isBetween(0, 2);
                        for (int i = start; i < end; i++) {
                            seen.incrementAndGet(i);
                        }
                    });
                    for (int i = 0; i < size; i++) {
                        assertThat(seen.get(i)).isEqualTo(1);
                    }
                }
            }
        }
    }

    @Test
    void should_rethrow_a_failure_of_any_part() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThatThrownBy(() -> pool.parallelFor(10, (part, start, end) -> {
                if (start > 0) {
                    throw new IllegalStateException("boom in part " + part);
                }
            })).hasMessageContaining("boom");
            // the pool still works afterwards
            int[] sum = new int[1];
            pool.parallelFor(1, (part, start, end) -> sum[0] += end - start);
            assertThat(sum[0]).isEqualTo(1);
        }
    }
}
