package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Runs everywhere (no GPU): the host-side checks of the fused 4-bit GEMVs ({@link DeviceQ4Matrix#gemvRmsNorm},
 * {@link DeviceQ4Matrix#gemvRmsNormSwiglu}) refuse what the kernels cannot serve before anything is launched.
 * Buffers are size-only stand-ins (no device); the address checks take raw addresses.
 */
class DeviceQ4MatrixArgumentTest {
    private static DeviceBuffer sized(long bytes) {
        return new DeviceBuffer(null, "stand-in " + bytes + " bytes", 0L, bytes);
    }

    private static final int ROWS = 12, COLS = 1000;
    private final DeviceBuffer x = sized(COLS * 4L);
    private final DeviceBuffer weight = sized(COLS * 2L);
    private final DeviceBuffer out = sized(ROWS * 4L);

    @Test
    void should_accept_the_shapes_of_a_norm_gemv_and_of_a_swiglu_gemv() {
        assertThatCode(() -> DeviceQ4Matrix.checkFused(x, weight, 1e-5f, out, ROWS, COLS, false, ""))
                .doesNotThrowAnyException();
        // SwiGLU writes rows / 2 outputs: half of out is enough
        assertThatCode(() -> DeviceQ4Matrix.checkFused(x, weight, 1e-6f, sized(ROWS / 2 * 4L), ROWS, COLS, true, ""))
                .doesNotThrowAnyException();
        assertThatCode(() -> DeviceQ4Matrix.checkFused(x, weight, 0f, out, ROWS, COLS, false, "")).doesNotThrowAnyException();
        assertThatCode(() -> DeviceQ4Matrix.checkFusedAddresses(0, 1 << 20, 2 << 20, ROWS, COLS, false, ""))
                .doesNotThrowAnyException();
        // an unaligned norm weight takes the kernel's scalar path; out right after x is fine
        assertThatCode(() -> DeviceQ4Matrix.checkFusedAddresses(0, (1 << 20) + 2, COLS * 4L, ROWS, COLS, true, ""))
                .doesNotThrowAnyException();
    }

    @Test
    void should_refuse_short_buffers() {
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(sized(COLS * 4L - 4), weight, 1e-5f, out, ROWS, COLS, false, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(x, sized(COLS * 2L - 2), 1e-5f, out, ROWS, COLS, false, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(x, weight, 1e-5f, sized(ROWS * 4L - 4), ROWS, COLS, false, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(x, weight, 1e-5f, sized(ROWS / 2 * 4L - 4), ROWS, COLS, true, ""))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_accept_a_q_k_v_matrix_and_refuse_other_shapes_for_the_rope_epilogue() {
        // q 8 heads, k and v 2 heads each, head dim 64: 768 rows; buffer of the layout's capacity
        QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 128, 128, 64, 12);
        DeviceBuffer invFreq = sized(32 * 4L), header = sized(3 * 4L);
        assertThatCode(() -> DeviceQ4Matrix.checkRopeAppend(768, 8, layout, invFreq, header, ""))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> DeviceQ4Matrix.checkRopeAppend(767, 8, layout, invFreq, header, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[q; k; v]");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkRopeAppend(768, 9, layout, invFreq, header, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("832 rows, not 768");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkRopeAppend(768, 8, layout, sized(31 * 4L), header, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkRopeAppend(768, 8, layout, invFreq, sized(8), ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkRopeAppend(768, 0, layout, invFreq, header, ""))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_refuse_an_odd_gate_up_matrix_for_swiglu() {
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(x, weight, 1e-5f, out, 11, COLS, true, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
    }

    @Test
    void should_refuse_a_bad_eps() {
        for (float eps : new float[] {-1e-5f, Float.NaN, Float.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> DeviceQ4Matrix.checkFused(x, weight, eps, out, ROWS, COLS, false, ""))
                    .as("eps %s", eps).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("eps");
        }
    }

    @Test
    void should_refuse_an_unaligned_x_and_an_out_over_x_or_the_weight() {
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFusedAddresses(8, 1 << 20, 2 << 20, ROWS, COLS, false, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("aligned");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFusedAddresses(0, 1 << 20, COLS * 4L - 4, ROWS, COLS, false, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFusedAddresses(4096, 1 << 20, 4096 - ROWS / 2 * 4L + 4, ROWS, COLS, true, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkFusedAddresses(0, 1 << 20, (1 << 20) + 16, ROWS, COLS, true, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
    }

    @Test
    void should_launch_the_fused_entries_of_the_plain_kernel_chosen_for_the_shape() {
        // the entries q4gemv.cuh compiles: <kernel>_norm and <kernel>_norm_swiglu for both plain kernels
        assertThat(DeviceQ4Matrix.gemvKernelFor(12288, 4096).kernel()).isEqualTo("qs_q4_gemv_h2_r4u2");
        assertThat(DeviceQ4Matrix.gemvKernelFor(6144, 4096).kernel()).isEqualTo("qs_q4_gemv_h2_r2u2");
        assertThat(DeviceQ4Matrix.gemvKernelFor(2 * 11008, 4096).rowsPerWarp() % 2).isZero();
        assertThat(DeviceQ4Matrix.gemvKernelFor(2 * 100, 64).rowsPerWarp() % 2).isZero();
    }

    @Test
    void should_prefetch_in_the_plain_gemv_of_short_matrices_only() {
        // o and down (4096 rows: half a wave) take the prefetching entry; tall matrices keep the fused entries' kernel
        assertThat(DeviceQ4Matrix.plainGemvKernelFor(4096, 4096).kernel()).isEqualTo("qs_q4_gemv_h2_r2u2p");
        assertThat(DeviceQ4Matrix.plainGemvKernelFor(4096, 11008).kernel()).isEqualTo("qs_q4_gemv_h2_r2u2p");
        assertThat(DeviceQ4Matrix.plainGemvKernelFor(12288, 4096)).isEqualTo(DeviceQ4Matrix.gemvKernelFor(12288, 4096));
    }
}
