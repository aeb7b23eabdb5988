package dev.quantspec.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The host-side fp16/bf16 conversions that the GPU tests use as their reference. */
class HalfFloatsTest {

    @Test
    void should_round_trip_every_finite_fp16_value() {
        // given every 16-bit pattern that is not NaN
        for (int bits = 0; bits < 0x10000; bits++) {
            short h = (short) bits;
            float f = HalfFloats.halfToFloat(h);
            if (Float.isNaN(f)) continue;
            // when converted to fp32 and back, then the bits are unchanged
            assertThat(HalfFloats.floatToHalf(f)).as("fp16 bits %04x", bits).isEqualTo(h);
        }
    }

    @Test
    void should_round_fp16_to_nearest_even_like_cuda() {
        // given values halfway between two fp16 numbers (1 + 2^-11 lies between 1 and 1 + 2^-10)
        // when / then: ties go to the even mantissa, above-half goes up, overflow goes to infinity
        assertThat(HalfFloats.floatToHalf(1.0f + 0x1p-11f)).isEqualTo((short) 0x3c00);
        assertThat(HalfFloats.floatToHalf(1.0f + 3 * 0x1p-11f)).isEqualTo((short) 0x3c02);
        assertThat(HalfFloats.floatToHalf(1.0f + 0x1p-11f + 0x1p-20f)).isEqualTo((short) 0x3c01);
        assertThat(HalfFloats.floatToHalf(65504f)).isEqualTo((short) 0x7bff);
        assertThat(HalfFloats.floatToHalf(70000f)).isEqualTo((short) 0x7c00);
        assertThat(HalfFloats.floatToHalf(-0x1p-24f)).isEqualTo((short) 0x8001);
        assertThat(HalfFloats.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
    }

    @Test
    void should_round_bf16_to_nearest_even() {
        // given 1 + 2^-8 (halfway between 1 and 1 + 2^-7) and 1 + 3 * 2^-8
        // when / then
        assertThat(HalfFloats.floatToBf16(1.0f)).isEqualTo((short) 0x3f80);
        assertThat(HalfFloats.floatToBf16(1.0f + 0x1p-8f)).isEqualTo((short) 0x3f80);
        assertThat(HalfFloats.floatToBf16(1.0f + 3 * 0x1p-8f)).isEqualTo((short) 0x3f82);
        assertThat(HalfFloats.bf16ToFloat((short) 0xc040)).isEqualTo(-3.0f);
    }
}
