package dev.quantspec.cuda;

import dev.quantspec.model.Projection;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the GPU QuantSpec model accepts as draft projections, checked before anything touches a GPU. */
class CudaQuantSpecModelArgumentTest {
    @Test
    void should_accept_the_projection_sets_whose_stacked_matrices_stay_whole() {
        assertThat(CudaQuantSpecModel.draftProjections(Projection.MLP)).isEqualTo(Projection.MLP);
        assertThat(CudaQuantSpecModel.draftProjections(Projection.ALL)).isEqualTo(Projection.ALL);
        assertThat(CudaQuantSpecModel.draftProjections(EnumSet.noneOf(Projection.class))).isEmpty();
        assertThat(CudaQuantSpecModel.draftProjections(Projection.parseSet("q,k,v,o"))).hasSize(4);
    }

    @Test
    void should_refuse_sets_that_split_qkv_or_gate_up_with_a_clear_message() {
        // q, k and v are one matrix on the GPU (one GEMV), so is gate/up: quantizing part of one cannot be served
        assertThatThrownBy(() -> CudaQuantSpecModel.draftProjections(Projection.parseSet("q,k")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q, k and v");
        assertThatThrownBy(() -> CudaQuantSpecModel.draftProjections(Projection.parseSet("gate,down")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("gate and up");
    }
}
