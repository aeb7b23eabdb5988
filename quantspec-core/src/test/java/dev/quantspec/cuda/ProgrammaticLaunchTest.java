package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs everywhere: the kernel build lists exactly the kernels that wait for the previous grid, and only
 * those get programmatic launch. Needs the kernels built (nvcc at build time, as in CI).
 */
class ProgrammaticLaunchTest {
    @Test
    void should_allow_the_pass_kernels_that_wait_for_the_prior_grid() {
        assumeTrue(!ProgrammaticLaunch.load(ProgrammaticLaunch.RESOURCE).isEmpty(), "kernels not built (no nvcc)");
        for (String kernel : new String[] {"qs_rmsnorm", "qs_gemv_bf16_n5_r4u2_acc", "qs_gemv_bf16_r1_acc",
                "qs_q4_gemv_h2_r2u2_acc", "qs_rope_append_rows", "qs_rope_kv_append_f16", "qs_attn_partial_h128_g4_u8",
                "qs_attn_combine", "qs_swiglu_rows", "qs_argmax_rows", "qs_prefill_embedding_bf16", "qs_round_header",
                "qs_q4_gemv_h2_r4u2_norm", "qs_q4_gemv_h2_r4u2_norm_swiglu"}) {
            assertThat(ProgrammaticLaunch.waitsForPriorGrid(kernel)).as(kernel).isTrue();
        }
    }

    @Test
    void should_keep_full_ordering_for_kernels_without_the_wait() {
        assumeTrue(!ProgrammaticLaunch.load(ProgrammaticLaunch.RESOURCE).isEmpty(), "kernels not built (no nvcc)");
        // the quantized attention, the prefill's bf16 RMSNorm, the quantizers, fills and the spin kernel do not wait
        for (String kernel : new String[] {"qs_qattn7g_b4_h128_g1_p1_t2_f0_b4", "qs_qattn6g_b8_h128_g4_p4_t1_f0_b2",
                "qs_rmsnorm_bf16_out", "qs_q4_quantize_bf16", "qs_fill_random_f16", "qs_spin", "qs_sample_rows",
                "qs_speculative_verify", "no_such_kernel"}) {
            assertThat(ProgrammaticLaunch.waitsForPriorGrid(kernel)).as(kernel).isFalse();
        }
    }

    @Test
    void should_find_no_kernels_when_the_list_is_missing() {
        assertThat(ProgrammaticLaunch.load("dev/quantspec/kernels/no-such-list.txt")).isEmpty();
    }
}
