package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Runs everywhere (no GPU): the host-side checks of the decoder's pass kernels refuse shapes the
 * kernels cannot serve before anything is launched. Buffers here are size-only stand-ins (no device).
 */
class PassKernelsArgumentTest {
    private static final QuantizedDecodeAttention.View VERIFY = QuantizedDecodeAttention.View.VERIFY;
    private static final QuantizedDecodeAttention.View DRAFT = QuantizedDecodeAttention.View.DRAFT;
    private final CudaKernels kernels = new CudaKernels(null);
    private final QuantizedKvLayout layout = new QuantizedKvLayout(2, 64, 1024, 64, 64, 140);

    private static DeviceBuffer sized(long bytes) {
        return new DeviceBuffer(null, "stand-in " + bytes + " bytes", 0L, bytes);
    }

    @Test
    void should_read_the_pass_gemv_family_from_its_property_and_refuse_other_values() {
        assertThat(CudaKernels.passGemvFromProperty("tensor-cores")).isEqualTo(CudaKernels.PassGemv.TENSOR_CORES);
        assertThat(CudaKernels.passGemvFromProperty(" FP32 ")).isEqualTo(CudaKernels.PassGemv.FP32);
        assertThatThrownBy(() -> CudaKernels.passGemvFromProperty("tf32"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("quantspec.cuda.passGemv");
    }

    @Test
    void should_accept_a_pass_of_one_to_five_queries_and_refuse_the_rest() {
        int rowFloats = 4 * 64, stride = rowFloats + 2 * 128;
        DeviceBuffer q = sized(5L * stride * 4), out = sized(5L * rowFloats * 4), header = sized(36);
        assertThatCode(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, header, 5, 0, ""))
                .doesNotThrowAnyException();
        assertThatCode(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, header, 1, 4, ""))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, header, 6, 0, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1..5");
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(DRAFT, 4, layout, q, stride, out, header, 2, 0, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1..1");
        // version 6 takes up to 8 verification queries per launch (the caller passes its maximum)
        DeviceBuffer q8 = sized(8L * stride * 4), out8 = sized(8L * rowFloats * 4);
        assertThatCode(() -> QuantizedDecodeAttention.checkPass(VERIFY, 8, 4, layout, q8, stride, out8, header, 8, 0, ""))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 8, 4, layout, q8, stride, out8, header, 9, 0, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1..8");
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, header, 0, 0, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, header, 1, -1, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, rowFloats - 1, out, header, 1, 0, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stride");
        // q must hold (queries - 1) strides plus one row; out queries rows; the header 3 ints
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, sized(4L * stride * 4), stride, out,
                header, 5, 0, "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, sized(4L * rowFloats * 4),
                header, 5, 0, "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QuantizedDecodeAttention.checkPass(VERIFY, 4, layout, q, stride, out, sized(8), 5, 0, ""))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_name_the_kernels_quantkv_compiles_for_gqa_two() {
        QuantizedDecodeAttention.Tuning simple = QuantizedDecodeAttention.Tuning.SIMPLE;
        assertThat(QuantizedDecodeAttention.kernelName(DRAFT, 2, 64, simple)).isEqualTo("qs_qattn_b4_h64_g2_p2_q1");
        assertThat(QuantizedDecodeAttention.kernelName(VERIFY, 2, 64, simple)).isEqualTo("qs_qattn_b8_h64_g2_p1_q5");
        // the draft: version 1 (the fallback) and version 7 (tensor cores, all heads of a kv head per block)
        QuantizedDecodeAttention.Tuning v7 = QuantizedDecodeAttention.Tuning.draftMma(2, 2, false, 4);
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 2, 128)).containsExactly(simple, v7);
        assertThat(QuantizedDecodeAttention.compiled(DRAFT, 2, 64)).containsExactly(simple, v7);
        // the layout's value group spans the head, so the draft defaults to version 7 in both launch modes
        assertThat(QuantizedDecodeAttention.defaultTuning(DRAFT, layout, 2)).isEqualTo(v7);
        assertThat(QuantizedDecodeAttention.kernelName(DRAFT, 2, 64, v7)).isEqualTo("qs_qattn7_b4_h64_g2_p2_q1_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.graphKernelName(DRAFT, 2, 64, v7)).isEqualTo("qs_qattn7g_b4_h64_g2_p2_t2_f0_b4");
        assertThat(QuantizedDecodeAttention.slices(DRAFT, 2, v7)).isEqualTo(1);
        // the layout's value group spans the head, so verification defaults to the tensor-core kernel (version 6)
        assertThat(QuantizedDecodeAttention.defaultTuning(VERIFY, layout, 2))
                .isEqualTo(QuantizedDecodeAttention.Tuning.mma(1, 1, true, 4));
    }

    @Test
    void should_refuse_multi_vector_gemv_shapes_it_cannot_serve() {
        DeviceBuffer w = sized(64L * 256 * 2), x = sized(10L * 256 * 4), out = sized(10L * 64 * 4);
        assertThatThrownBy(() -> kernels.gemvBf16Rows(w, x, out, 64, 256, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1..9");
        assertThatThrownBy(() -> kernels.gemvBf16Rows(w, x, out, 64, 256, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> kernels.gemvBf16Rows(w, sized(8L * 256 * 4), out, 64, 256, 9))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needed");
        assertThatThrownBy(() -> kernels.gemvBf16Rows(w, x, sized(8L * 64 * 4), 64, 256, 9))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> kernels.gemvBf16Rows(sized(64L * 255 * 2), x, out, 64, 256, 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_refuse_row_kernel_shapes_that_do_not_fit() {
        // a header of n rows holds 4 + n ints
        assertThatThrownBy(() -> kernels.embeddingRows(sized(100L * 8 * 2), sized(CudaKernels.headerBytes(4)),
                sized(5L * 8 * 4), 5, 8, 100)).isInstanceOf(IllegalArgumentException.class);
        // q and k must fit the row stride; the last row need not be padded to a whole stride
        assertThatThrownBy(() -> kernels.ropeRows(sized(1 << 20), 8 * 64 + 2 * 64 - 1, sized(128), sized(36), 5, 8, 2, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("stride");
        assertThatThrownBy(() -> kernels.ropeRows(sized(((4L * 700) + 640) * 4 - 4), 700, sized(128), sized(36), 5, 8, 2, 64))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> kernels.ropeRows(sized(1 << 20), 700, sized(128), sized(36), 1, 8, 2, 63))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
        assertThatThrownBy(() -> kernels.swigluRows(sized(3L * 2 * 100 * 4 - 4), sized(3L * 100 * 4), 3, 100))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> kernels.argmaxRows(sized(3L * 1000 * 4), 3, 1000, sized(8)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_refuse_flush_and_copy_ranges_outside_the_buffer_or_capacity() {
        DeviceBuffer src = sized(2L * 1024 * 64 * 2);
        // keys: groups start at a multiple of G inside the capacity (1024 = 16 groups of 64)
        assertThatCode(() -> DeviceKvQuantizer.checkKeys(layout, DeviceKvQuantizer.Source.F16, src, 64, 1024L * 64, 0, 16, ""))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> DeviceKvQuantizer.checkKeys(layout, DeviceKvQuantizer.Source.F16, src, 64, 1024L * 64, 64, 16, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceKvQuantizer.checkKeys(layout, DeviceKvQuantizer.Source.F16, src, 64, 1024L * 64, 32, 1, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceKvQuantizer.checkKeys(layout, DeviceKvQuantizer.Source.F16, src, 64, 1024L * 64, 0, 0, ""))
                .isInstanceOf(IllegalArgumentException.class);
        // a head stride shorter than the tokens read would overlap the next head
        assertThatThrownBy(() -> DeviceKvQuantizer.checkKeys(layout, DeviceKvQuantizer.Source.F16, src, 64, 100L * 64, 0, 2, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
        // shift: from >= 1, inside the buffer (140 rows); rows 0 is fine
        assertThatCode(() -> DeviceKvQuantizer.checkShift(layout, 64, 76, "")).doesNotThrowAnyException();
        assertThatCode(() -> DeviceKvQuantizer.checkShift(layout, 64, 0, "")).doesNotThrowAnyException();
        assertThatThrownBy(() -> DeviceKvQuantizer.checkShift(layout, 64, 77, "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceKvQuantizer.checkShift(layout, 0, 5, "")).isInstanceOf(IllegalArgumentException.class);
        // copy: rows fit the buffer, the source holds the rows of every head
        assertThatCode(() -> DeviceKvQuantizer.checkCopy(layout, src, src, 1024L * 64, 900, 124, "")).doesNotThrowAnyException();
        assertThatThrownBy(() -> DeviceKvQuantizer.checkCopy(layout, src, src, 1024L * 64, 900, 141, ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceKvQuantizer.checkCopy(layout, src, src, 1024L * 64, 1000, 100, ""))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void should_lay_out_four_bit_rows_on_sixteen_byte_pieces() {
        assertThat(DeviceQ4Matrix.rowStride(4096)).isEqualTo(2048);
        assertThat(DeviceQ4Matrix.rowStride(4097)).isEqualTo(2064);
        assertThat(DeviceQ4Matrix.rowStride(31)).isEqualTo(16);
        assertThat(DeviceQ4Matrix.groupsPerRow(11008, 128)).isEqualTo(86);
        assertThat(DeviceQ4Matrix.groupsPerRow(1000, 128)).isEqualTo(8);
        assertThatThrownBy(() -> DeviceQ4Matrix.checkShape(sized(4L * 256 * 2), 4, 256, 100, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> DeviceQ4Matrix.checkShape(sized(4L * 256 * 2 - 2), 4, 256, 128, ""))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
