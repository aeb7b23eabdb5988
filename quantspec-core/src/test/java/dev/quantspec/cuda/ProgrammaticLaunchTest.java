package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs everywhere: only kernels that wait for their predecessor themselves get programmatic launch. */
class ProgrammaticLaunchTest {
    @Test
    void should_allow_the_pass_kernels_that_wait_for_the_prior_grid() {
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_rmsnorm")).isTrue();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_gemv_bf16_n5_r8u2_acc")).isTrue();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_q4_gemv_h2_r2u2_acc")).isTrue();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_rope_append_rows")).isTrue();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_attn_partial_h128_g4_u8")).isTrue();
    }

    @Test
    void should_keep_full_ordering_for_kernels_without_the_wait() {
        // the quantized attention, the prefill's bf16 RMSNorm, the quantizers and the sampler do not wait
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_qattn7g_b4_h128_g1_p1_t2_f0_b4")).isFalse();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_qattn6g_b8_h128_g4_p2_t1_f0_b2")).isFalse();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_rmsnorm_bf16_out")).isFalse();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_q4_quantize_bf16")).isFalse();
        assertThat(ProgrammaticLaunch.waitsForPriorGrid("qs_fill_random_f16")).isFalse();
    }
}
