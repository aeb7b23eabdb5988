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
        assertThat(layout.keyParamsBytes()).isEqualTo(8L * 7 * 128 * 2 * 2);  // (scale, min) as two fp16
        assertThat(layout.valueParamsBytes()).isEqualTo(8L * 1000 * 1 * 2 * 2);
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
    void should_draft_on_tensor_cores_wherever_version_7_is_compiled_and_fits() {
        // given the shapes timed on the H200 (bench-results/h200-2026-11-29-mma-draft.md) and the small models'
        QuantizedKvLayout mha = new QuantizedKvLayout(32, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa = new QuantizedKvLayout(8, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa2 = new QuantizedKvLayout(16, 128, 4096, 128, 128, 261);
        QuantizedKvLayout small = new QuantizedKvLayout(2, 64, 1024, 64, 64, 140);

        // when / then: t2_f0_b4 with every query head of the kv head in one block (the only variant compiled)
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, mha, 1)).isEqualTo(Tuning.draftMma(1, 2, false, 4));
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, gqa, 4)).isEqualTo(Tuning.draftMma(4, 2, false, 4));
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, gqa2, 2)).isEqualTo(Tuning.draftMma(2, 2, false, 4));
        for (int group : new int[] {1, 2, 4}) {
            assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, small, group))
                    .isEqualTo(Tuning.draftMma(group, 2, false, 4));
        }
        // the names of the two entries (host lengths for run, graph for runAtHeader); one slice per kv head
        assertThat(QuantizedDecodeAttention.kernelName(DRAFT, 1, 128, Tuning.draftMma(1, 2, false, 4)))
                .isEqualTo("qs_qattn7_b4_h128_g1_p1_q1_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.graphKernelName(DRAFT, 1, 128, Tuning.draftMma(1, 2, false, 4)))
                .isEqualTo("qs_qattn7g_b4_h128_g1_p1_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.kernelName(DRAFT, 4, 128, Tuning.draftMma(4, 2, false, 4)))
                .isEqualTo("qs_qattn7_b4_h128_g4_p4_q1_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.graphKernelName(DRAFT, 4, 64, Tuning.draftMma(4, 2, false, 4)))
                .isEqualTo("qs_qattn7g_b4_h64_g4_p4_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.slices(DRAFT, 4, Tuning.draftMma(4, 2, false, 4))).isEqualTo(1);
        assertThat(Tuning.draftMma(4, 2, false, 4)).hasToString("v7 p4 t2 f0 b4");
        // versions 1 and 3 stay compiled and selectable; version 7 only for the draft, version 6 only for verification
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 1, 128)).startsWith(Tuning.SIMPLE)
                .contains(new Tuning(3, 16, 4), Tuning.draftMma(1, 2, false, 4));
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 4, 128)).contains(Tuning.SIMPLE, new Tuning(3, 8, 4),
                Tuning.draftMma(4, 2, false, 4));
        assertThat(QuantizedDecodeAttention.compiled(VERIFY, 1, 128)).noneMatch(t -> t.version() == 7);
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 4, 128)).noneMatch(t -> t.version() == 6);
        // the previous defaults (what sizes the split of versions 1-3): version 3 for the MHA draft at head dim 128
        assertThat(QuantizedDecodeAttention.legacyDefault(DRAFT, mha, 1)).isEqualTo(new Tuning(3, 16, 4));
        assertThat(QuantizedDecodeAttention.legacyDefault(DRAFT, gqa, 4)).isEqualTo(Tuning.SIMPLE);
    }

    @Test
    void should_fall_back_to_version_3_or_1_for_the_draft_when_version_7_does_not_fit() {
        // given value groups smaller than the head dim and key groups that are not whole 32-position warp steps
        QuantizedKvLayout vg64 = new QuantizedKvLayout(32, 128, 4096, 128, 64, 261);
        QuantizedKvLayout g16 = new QuantizedKvLayout(32, 128, 4096, 16, 128, 261);
        QuantizedKvLayout gqaVg64 = new QuantizedKvLayout(8, 128, 4096, 128, 64, 261);

        // when / then: the MHA draft at head dim 128 falls back to version 3 where it fits, else version 1
        assertThat(QuantizedDecodeAttention.fits(Tuning.draftMma(1, 2, false, 4), vg64)).isFalse();
        assertThat(QuantizedDecodeAttention.fits(Tuning.draftMma(1, 2, false, 4), g16)).isFalse();
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, vg64, 1)).isEqualTo(new Tuning(3, 16, 4));
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, g16, 1)).isEqualTo(Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, gqaVg64, 4)).isEqualTo(Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.fits(Tuning.draftMma(1, 2, false, 4),
                new QuantizedKvLayout(32, 128, 4096, 64, 128, 261))).isTrue();
        assertThatThrownBy(() -> new Tuning(7, 8, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Tuning(3, 16, 4, new QuantizedDecodeAttention.Mma(1, 2, false, 4)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_size_version_7_splits_to_two_waves_for_mha_and_one_for_gqa() {
        // given the H200 (132 SMs, 4 blocks/SM for every version-7 default: 528 resident blocks, one slice)
        // when / then: MHA 2 x floor(resident / kvHeads) - 1 (the best fixed split at 32K-256K), GQA one wave
        assertThat(QuantizedDecodeAttention.draftMmaChunks(132 * 4, 32, 1, 1)).isEqualTo(31);  // Llama-2-7B
        assertThat(QuantizedDecodeAttention.draftMmaChunks(132 * 4, 8, 1, 4)).isEqualTo(65);   // Llama-3.1-8B
        assertThat(QuantizedDecodeAttention.draftMmaChunks(132 * 4, 16, 1, 2)).isEqualTo(32);  // GQA 2: one wave
        assertThat(QuantizedDecodeAttention.draftMmaChunks(132 * 4, 2, 1, 1)).isEqualTo(527);  // a 2-kv-head MHA model
        assertThat(QuantizedDecodeAttention.draftMmaChunks(8, 32, 1, 1)).isEqualTo(1);         // never below one chunk
        assertThat(QuantizedDecodeAttention.draftMmaChunks(8, 32, 1, 4)).isEqualTo(1);
        assertThat(QuantizedDecodeAttention.draftMmaChunks(1 << 20, 1, 1, 1)).isEqualTo(DecodeAttention.MAX_CHUNKS - 1);
        // (chunks + 1) x kvHeads blocks: MHA at most two waves (32 x 32 = 1024 <= 1056), GQA 4 one wave exactly
        assertThat((QuantizedDecodeAttention.draftMmaChunks(132 * 4, 32, 1, 1) + 1) * 32).isEqualTo(1024)
                .isLessThanOrEqualTo(2 * 132 * 4);
        assertThat((QuantizedDecodeAttention.draftMmaChunks(132 * 4, 8, 1, 4) + 1) * 8).isEqualTo(132 * 4);
    }

    @Test
    void should_verify_on_tensor_cores_wherever_version_6_is_compiled_and_fits() {
        // given the H200 winners (bench-results/h200-2026-11-29-mma-verify.md) and the only other instantiations
        QuantizedKvLayout mha = new QuantizedKvLayout(32, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa = new QuantizedKvLayout(8, 128, 4096, 128, 128, 261);
        QuantizedKvLayout gqa2 = new QuantizedKvLayout(16, 128, 4096, 128, 128, 261);
        QuantizedKvLayout small = new QuantizedKvLayout(2, 64, 1024, 64, 64, 140);

        // when / then: MHA t2_f0_b3, GQA 4 p4_t1_f0_b2 (4 heads per block), GQA 2 and head dim 64 their only variant
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, mha, 1)).isEqualTo(Tuning.mma(1, 2, false, 3));
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, gqa, 4)).isEqualTo(Tuning.mma(4, 1, false, 2));
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
        assertThat(QuantizedDecodeAttention.slices(VERIFY, 4, Tuning.mma(4, 1, false, 2))).isEqualTo(1);
        assertThat(QuantizedDecodeAttention.graphKernelName(VERIFY, 4, 128, Tuning.mma(4, 1, false, 2)))
                .isEqualTo("qs_qattn6g_b8_h128_g4_p4_t1_f0_b2");
        assertThat(QuantizedDecodeAttention.slices(VERIFY, 4, Tuning.SIMPLE)).isEqualTo(4);
        assertThat(QuantizedDecodeAttention.slices(DRAFT, 4, Tuning.SIMPLE)).isEqualTo(1);
        assertThat(QuantizedDecodeAttention.graphKernelName(VERIFY, 4, 128, Tuning.SIMPLE)).isEqualTo("qs_qattn_b8_h128_g4_p1_q5");
        // version 1 stays compiled first (the fallback, selectable for comparisons); no version 6 for the draft
        assertThat(QuantizedDecodeAttention.compiled(VERIFY, 1, 128)).startsWith(Tuning.SIMPLE)
                .contains(Tuning.mma(1, 2, false, 3), Tuning.mma(1, 1, false, 4));
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 1, 128)).noneMatch(t -> t.version() == 6);
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 2, 128)).containsExactly(Tuning.SIMPLE,
                Tuning.draftMma(2, 2, false, 4));
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
