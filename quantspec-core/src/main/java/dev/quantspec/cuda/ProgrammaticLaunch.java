package dev.quantspec.cuda;

import java.util.List;

/**
 * Which kernels may be launched with programmatic dependent launch (Hopper and later): such a kernel
 * may begin while the previous kernel on the stream is finishing, because it calls
 * {@code qs_wait_prior_grid()} (common.cuh) before it touches anything an earlier kernel writes or
 * reads. Its launch, and its loads of weights placed before the wait, then overlap the previous
 * kernel's tail; in a decode pass of a few hundred short kernels those boundaries are a good part of
 * the time. Kernels not listed here (the quantized-attention kernels, cuBLAS, quantizers) keep the
 * ordinary full ordering, which is always correct. Switched off with
 * {@code -Dquantspec.cuda.programmaticLaunch=false} (to measure what it gives).
 */
final class ProgrammaticLaunch {
    /** Kernel name prefixes whose every kernel starts with (or waits before any shared access in) qs_wait_prior_grid. */
    private static final List<String> PREFIXES = List.of(
            "qs_embedding_bf16", "qs_prefill_embedding_bf16", "qs_rmsnorm", "qs_rope", "qs_swiglu", "qs_add_inplace",
            "qs_kv_append_f16", "qs_buffer_append_rows", "qs_argmax", "qs_round_header", "qs_copy_ints",
            "qs_attn_combine", "qs_attn_partial_", "qs_gemv_bf16_", "qs_q4_gemv_h2_");

    private ProgrammaticLaunch() {
    }

    static boolean enabledByDefault() {
        return Boolean.parseBoolean(System.getProperty("quantspec.cuda.programmaticLaunch", "true"));
    }

    /** Whether {@code kernel} waits for the previous grid itself (see common.cuh qs_wait_prior_grid). */
    static boolean waitsForPriorGrid(String kernel) {
        if (kernel.equals("qs_rmsnorm_bf16_out")) return false;  // a prefill kernel without the wait
        for (String p : PREFIXES) {
            if (kernel.startsWith(p)) return true;
        }
        return false;
    }
}
