package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The host-side rules of the quantized-KV kernels: buffer sizes and which kernel serves a layout (no GPU needed). */
class QuantizedKvLayoutTest {

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
        assertThat(QuantizedDecodeAttention.defaultTuning(QuantizedDecodeAttention.View.DRAFT, mha, 1))
                .isEqualTo(new QuantizedDecodeAttention.Tuning(3, 16, 4));
        assertThat(QuantizedDecodeAttention.defaultTuning(QuantizedDecodeAttention.View.DRAFT, gqa, 4))
                .isEqualTo(QuantizedDecodeAttention.Tuning.SIMPLE);
        assertThat(QuantizedDecodeAttention.defaultTuning(QuantizedDecodeAttention.View.VERIFY, mha, 1))
                .isEqualTo(QuantizedDecodeAttention.Tuning.SIMPLE);
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
