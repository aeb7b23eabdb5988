package dev.quantspec;

import dev.quantspec.model.Projection;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Options the CUDA backend's QuantSpec model cannot serve are found at load (backend=cuda fails
 * then, backend=auto falls back to the CPU), not at the first request.
 */
class CudaOptionsCheckTest {
    @Test
    void should_accept_the_defaults_and_the_usual_draft_choices() {
        assertThat(QuantSpecEngine.cudaUnsupportedOptions(EngineOptions.defaults())).isNull();
        assertThat(QuantSpecEngine.cudaUnsupportedOptions(EngineOptions.defaults().withQuantSpec(31, 128, Projection.ALL)))
                .isNull();
    }

    @Test
    void should_name_what_the_gpu_cannot_serve() {
        assertThat(QuantSpecEngine.cudaUnsupportedOptions(EngineOptions.defaults().withQuantSpec(32, 128, Projection.MLP)))
                .contains("gamma 32");
        assertThat(QuantSpecEngine.cudaUnsupportedOptions(EngineOptions.defaults()
                .withQuantSpec(4, 128, Projection.parseSet("q,k")))).contains("q, k and v");
    }
}
