package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/** Runs everywhere (CI has no GPU): what a user sees when CUDA cannot be used. */
class CudaRuntimeTest {

    @Test
    void should_explain_missing_driver_when_the_jni_library_cannot_link_libcuda() {
        // given a machine where loading the JavaCPP CUDA library fails as it does without a driver
        CudaRuntime.NativeLoader noDriver = () -> {
            throw new UnsatisfiedLinkError("libcuda.so.1: cannot open shared object file: No such file or directory");
        };

        // when / then
        assertThatThrownBy(() -> CudaRuntime.load(noDriver))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageStartingWith("no NVIDIA driver (libcuda.so.1) found; use backend=cpu")
                .hasMessageContaining("cannot open shared object file");
    }

    @Test
    void should_load_or_refuse_cleanly_with_the_real_javacpp_library_on_this_machine() {
        // given the real JavaCPP loader (CI: no driver; the H200 host: a driver)
        // when
        Throwable failure = catchThrowable(CudaRuntime::get);

        // then it either works or fails with our exception, never with a raw linkage error
        if (failure != null) {
            assertThat(failure).isInstanceOf(CudaUnavailableException.class)
                    .hasMessageContaining("use backend=cpu");
            assertThat(CudaRuntime.isAvailable()).isFalse();
        } else {
            assertThat(CudaRuntime.get().deviceCount()).isPositive();
            assertThat(CudaRuntime.isAvailable()).isTrue();
        }
    }

    @Test
    void should_say_the_kernels_were_not_built_when_the_fatbin_resource_is_absent() {
        // given a build made without nvcc (no fatbin resource)
        // when / then
        assertThatThrownBy(() -> KernelImage.load("dev/quantspec/kernels/not-built.fatbin"))
                .isInstanceOf(CudaUnavailableException.class)
                .hasMessageStartingWith("the CUDA kernels were not built (nvcc missing at build time)")
                .hasMessageContaining("not-built.fatbin");
    }
}
