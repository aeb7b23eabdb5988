package dev.quantspec.cuda;

import dev.quantspec.cuda.QuantizedDecodeAttention.Tuning;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The host-side rules of the quantized-KV kernels: buffer sizes and which kernel serves a layout (no GPU needed). */
class QuantizedKvLayoutTest {
    private static final QuantizedDecodeAttention.View DRAFT = QuantizedDecodeAttention.View.DRAFT;
    private static final QuantizedDecodeAttention.View VERIFY = QuantizedDecodeAttention.View.VERIFY;

    @Test
    void should_size_planes_and_params_as_the_cpu_cache_indexes_them() {
        // given the Llama-3.1-8B layer with G = 128 and one value group per token
        QuantizedKvLayout layout = new QuantizedKvLayout(8, 128, 1000, 128, 128, 261);

        // when / then: nibble (h*capacity + t)*headDim + c, params per (h, floor(capacity/G), c) and (h, t, j)
        assertThat(layout.maxGroups()).isEqualTo(7);
        assertThat(layout.planeBytes()).isEqualTo(8L * 1000 * 128 / 2);
        assertThat(layout.keyParamsBytes()).isEqualTo(8L * 7 * 128 * 2 * 4);
        assertThat(layout.valueParamsBytes()).isEqualTo(8L * 1000 * 1 * 2 * 4);
        assertThat(layout.bufferBytes()).isEqualTo(8L * 261 * 128 * 2);
    }

    @Test
    void should_reject_a_value_group_that_splits_the_eight_channels_of_a_lane() {
        // given / when / then
        assertThatThrownBy(() -> new QuantizedKvLayout(8, 128, 1024, 128, 12, 261))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("value group size")
                .hasMessageContaining("12");
        assertThatThrownBy(() -> new QuantizedKvLayout(8, 96, 1024, 128, 32, 261))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("head dim 64 or 128");
    }

    @Test
    void should_use_version_3_only_for_the_mha_draft_at_head_dim_128_where_it_was_faster() {
        // given the shapes timed on the H200
        QuantizedKvLayout mha = new QuantizedKvLayout(32, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa = new QuantizedKvLayout(8, 128, 4096, 128, 128, 261);

        // when / then
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, mha, 1)).isEqualTo(new QuantizedDecodeAttention.Tuning(3, 16, 4));
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, gqa, 4)).isEqualTo(QuantizedDecodeAttention.Tuning.SIMPLE);
    }

    @Test
    void should_verify_on_tensor_cores_wherever_version_6_is_compiled_and_fits() {
        // given the H200 winners (bench-results/h200-2026-11-29-mma-verify.md) and the only other instantiations
        QuantizedKvLayout mha = new QuantizedKvLayout(32, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa = new QuantizedKvLayout(8, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa2 = new QuantizedKvLayout(16, 128, 4096, 128, 128, 261);
        QuantizedKvLayout small = new QuantizedKvLayout(2, 64, 1024, 64, 64, 140);

        // when / then: MHA t2_f0_b3, GQA 4 p2_t1_f0_b2 (2 heads per block), GQA 2 and head dim 64 their only variant
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, mha, 1)).isEqualTo(Tuning.mma(1, 2, false, 3));
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, gqa, 4)).isEqualTo(Tuning.mma(2, 1, false, 2));
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, gqa2, 2)).isEqualTo(Tuning.mma(1, 1, true, 3));
        for (int group : new int[] {1, 2, 4}) {
            assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, small, group)).isEqualTo(Tuning.mma(1, 1, true, 4));
        }
        // the kernel names of quantkv_mma.cuh's two entries and the slices per kv head
        assertThat(QuantizedDecodeAttention.kernelName(VERIFY, 1, 128, Tuning.mma(1, 2, false, 3)))
                .isEqualTo("qs_qattn6_b8_h128_g1_p1_q5_t2_f0_b3");
        assertThat(QuantizedDecodeAttention.graphKernelName(VERIFY, 1, 128, Tuning.mma(1, 2, false, 3)))
                .isEqualTo("qs_qattn6g_b8_h128_g1_p1_t2_f0_b3");
        assertThat(QuantizedDecodeAttention.kernelName(VERIFY, 4, 128, Tuning.mma(2, 1, false, 2)))
                .isEqualTo("qs_qattn6_b8_h128_g4_p2_q5_t1_f0_b2");
        assertThat(QuantizedDecodeAttention.graphKernelName(VERIFY, 2, 64, Tuning.mma(1, 1, true, 4)))
                .isEqualTo("qs_qattn6g_b8_h64_g2_p1_t1_f1_b4");
        assertThat(QuantizedDecodeAttention.slices(VERIFY, 4, Tuning.mma(2, 1, false, 2))).isEqualTo(2);
        assertThat(QuantizedDecodeAttention.slices(VERIFY, 4, Tuning.SIMPLE)).isEqualTo(4);
        assertThat(QuantizedDecodeAttention.slices(DRAFT, 4, Tuning.SIMPLE)).isEqualTo(1);
        assertThat(QuantizedDecodeAttention.graphKernelName(VERIFY, 4, 128, Tuning.SIMPLE)).isEqualTo("qs_qattn_b8_h128_g4_p1_q5");
        // version 1 stays compiled first (the fallback, selectable for comparisons); no version 6 for the draft
        assertThat(QuantizedDecodeAttention.compiled(VERIFY, 1, 128)).startsWith(Tuning.SIMPLE)
                .contains(Tuning.mma(1, 2, false, 3), Tuning.mma(1, 1, false, 4));
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 1, 128)).noneMatch(t -> t.version() == 6);
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 2, 128)).containsExactly(Tuning.SIMPLE);
    }

    @Test
    void should_fall_back_to_version_1_for_verification_when_version_6_does_not_fit() {
        // given value groups smaller than the head dim (the value scale is per position in version 6) and
        // key groups that are not whole 32-position warp steps
        QuantizedKvLayout vg64 = new QuantizedKvLayout(32, 128, 4096, 128, 64, 261);
        QuantizedKvLayout g16 = new QuantizedKvLayout(32, 128, 4096, 16, 128, 261);

        // when / then
        assertThat(QuantizedDecodeAttention.fits(Tuning.mma(1, 2, false, 3), vg64)).isFalse();
        assertThat(QuantizedDecodeAttention.fits(Tuning.mma(1, 1, false, 4), g16)).isFalse();
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, vg64, 1)).isEqualTo(Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, g16, 1)).isEqualTo(Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, new QuantizedKvLayout(8, 128, 4096, 64, 64, 261), 4))
                .isEqualTo(Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.fits(Tuning.mma(1, 2, false, 3), new QuantizedKvLayout(32, 128, 4096, 64, 128, 261)))
                .isTrue();
        assertThatThrownBy(() -> new Tuning(6, 8, 4)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_size_version_6_splits_to_one_wave_and_older_versions_as_before() {
        // given the H200 (132 SMs): Llama-2-7B MHA t2_f0_b3 (3 blocks/SM, 32 kv heads, 1 slice),
        // Llama-3.1-8B GQA 4 p2 (2 blocks/SM, 8 kv heads, 2 slices)
        // when / then: floor(resident / (kvHeads x slices)) - 1 quantized chunks, so with the buffer chunk one wave
        assertThat(QuantizedDecodeAttention.mmaChunks(132 * 3, 32, 1)).isEqualTo(11);   // 12 x 32 = 384 <= 396
        assertThat(QuantizedDecodeAttention.mmaChunks(132 * 2, 8, 2)).isEqualTo(15);    // 16 x 16 = 256 <= 264
        assertThat(QuantizedDecodeAttention.mmaChunks(132 * 4, 32, 1)).isEqualTo(15);   // t1_f0_b4
        assertThat(QuantizedDecodeAttention.mmaChunks(8, 32, 1)).isEqualTo(1);          // never below one chunk
        // versions 1-3 keep ceil(resident / (kvHeads x slices)): 13 x 32 = 416 > 396, the overshoot v6 avoids
        assertThat(QuantizedDecodeAttention.legacyChunks(132 * 3, 32, 1)).isEqualTo(13);
    }

    @Test
    void should_name_only_kernels_that_the_fatbin_holds() throws Exception {
        // given the fatbin nvcc built (absent without nvcc: then nothing to check)
        byte[] image;
        try (java.io.InputStream in = getClass().getClassLoader().getResourceAsStream(KernelImage.RESOURCE)) {
            assumeTrue(in != null, "no fatbin on the class path");
            image = in.readAllBytes();
        }
        String text = new String(image, java.nio.charset.StandardCharsets.ISO_8859_1);
        assumeTrue(text.contains("qs_attn_combine"), "the fatbin's symbol names are not stored in plain text");

        // when / then: every entry point of every compiled tuning (both launch modes) is in it
        for (QuantizedDecodeAttention.View view : QuantizedDecodeAttention.View.values()) {
            for (int group : new int[] {1, 2, 4}) {
                for (int headDim : new int[] {64, 128}) {
                    for (Tuning t : QuantizedDecodeAttention.compiled(view, group, headDim)) {
                        for (String name : new String[] {QuantizedDecodeAttention.kernelName(view, group, headDim, t),
                                QuantizedDecodeAttention.graphKernelName(view, group, headDim, t)}) {
                            assertThat(text.contains(name + "\0")).as("%s %s group %d head dim %d: %s", view, t, group,
                                    headDim, name).isTrue();
                        }
                    }
                }
            }
        }
    }

    @Test
    void should_fall_back_to_version_1_when_a_key_group_is_not_whole_block_steps() {
        // given G = 16: versions 2 and 3 with 16 channels per lane and unroll 4 step over 64 positions per block
        QuantizedKvLayout smallGroups = new QuantizedKvLayout(32, 128, 4096, 16, 128, 261);

        // when / then
        assertThat(QuantizedDecodeAttention.fits(new QuantizedDecodeAttention.Tuning(2, 16, 4), smallGroups)).isFalse();
        assertThat(QuantizedDecodeAttention.fits(new QuantizedDecodeAttention.Tuning(3, 16, 4), smallGroups)).isFalse();
        assertThat(QuantizedDecodeAttention.defaultTuning(QuantizedDecodeAttention.View.DRAFT, smallGroups, 1))
                .isEqualTo(QuantizedDecodeAttention.Tuning.SIMPLE);
    }
}
