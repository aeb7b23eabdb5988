package dev.quantspec.cuda;

import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import dev.quantspec.testing.TestFiles;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Backend selection on whatever machine runs the tests: without a driver (CI) auto falls back to
 * the CPU and an explicit cuda fails with the driver message; with a GPU both give CUDA.
 */
class CudaBackendSelectionTest {
    private static final EngineOptions OPTIONS = EngineOptions.defaults().withContextLength(256).withThreads(1);

    @Test
    void should_choose_cuda_for_auto_only_when_a_gpu_is_usable() {
        // given this machine
        boolean gpu = CudaRuntime.isAvailable();
        // when qs-tiny is loaded with backend=auto
        try (QuantSpecEngine engine = QuantSpecEngine.load(TestFiles.qsTiny(), OPTIONS.withBackend(Backend.AUTO))) {
            // then the backend is CUDA exactly when a GPU is usable
            assertThat(engine.backend()).isEqualTo(gpu ? Backend.CUDA : Backend.CPU);
        }
    }

    @Test
    void should_fail_clearly_for_explicit_cuda_without_a_driver_or_load_on_the_gpu() {
        // given this machine
        if (CudaRuntime.isAvailable()) {
            // when / then: the CUDA backend is what runs
            try (QuantSpecEngine engine = QuantSpecEngine.load(TestFiles.qsTiny(), OPTIONS.withBackend(Backend.CUDA))) {
                assertThat(engine.backend()).isEqualTo(Backend.CUDA);
            }
        } else {
            // when / then: the error says what is missing and what to do
            assertThatThrownBy(() -> QuantSpecEngine.load(TestFiles.qsTiny(), OPTIONS.withBackend(Backend.CUDA)))
                    .isInstanceOf(CudaUnavailableException.class)
                    .hasMessageContaining("backend=cpu");
        }
    }
}
