package dev.quantspec.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

class HalfsTest {

    @ParameterizedTest(name = "f16 0x{0} = {1}")
    @CsvSource({
            "3C00, 1.0",
            "BC00, -1.0",
            "C000, -2.0",
            "3800, 0.5",
            "3555, 0.333251953125",
            "7BFF, 65504.0",              // largest finite half
            "0400, 6.103515625E-5",       // smallest normal, 2^-14
            "03FF, 6.097555160522461E-5", // largest subnormal, 1023 * 2^-24
            "0001, 5.960464477539063E-8", // smallest subnormal, 2^-24
            "8001, -5.960464477539063E-8",
            "0000, 0.0",
            "7C00, Infinity",
            "FC00, -Infinity",
    })
    void should_convert_known_f16_values(String hex, double expected) {
        // given a half-precision bit pattern with a known value
        short bits = (short) Integer.parseInt(hex, 16);

        // when it is widened
        float value = Halfs.f16ToFloat(bits);

        // then the value is exact
        assertThat(value).isEqualTo((float) expected);
    }

    @Test
    void should_keep_the_sign_of_negative_zero_and_produce_nan_for_f16_nan() {
        assertThat(Float.floatToRawIntBits(Halfs.f16ToFloat((short) 0x8000))).isEqualTo(0x8000_0000);
        assertThat(Halfs.f16ToFloat((short) 0x7E00)).isNaN();
        assertThat(Halfs.f16ToFloat((short) 0xFC01)).isNaN();
    }

    @Test
    void should_match_an_independent_formula_on_every_f16_bit_pattern() {
        for (int h = 0; h < 0x10000; h++) {
            // given the textbook definition of binary16, evaluated in double precision
            int sign = h >>> 15;
            int exponent = (h >>> 10) & 0x1F;
            int mantissa = h & 0x3FF;
            double magnitude;
            if (exponent == 0x1F) {
                magnitude = mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
            } else if (exponent == 0) {
                magnitude = mantissa * Math.pow(2, -24);
            } else {
                magnitude = (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
            }
            float expected = (float) (sign == 1 ? -magnitude : magnitude);

            // when the bit pattern is converted
            float actual = Halfs.f16ToFloat((short) h);

            // then both agree bit for bit (NaN payloads aside)
            if (Float.isNaN(expected)) {
                assertThat(actual).as("0x%04X", h).isNaN();
            } else {
                assertThat(Float.floatToRawIntBits(actual)).as("0x%04X", h).isEqualTo(Float.floatToRawIntBits(expected));
            }
        }
    }

    @Test
    void should_round_every_float_between_two_neighbouring_halves_down_to_the_lower_and_up_to_the_upper() {
        // walk the positive halves in value order (0x0000 .. 0x7BFF); negatives mirror them
        for (int h = 0; h < 0x7BFF; h++) {
            // given two neighbouring halves, valued by the textbook formula (not by Halfs)
            float lower = textbookValue(h);
            float upper = textbookValue(h + 1);
            for (float x : new float[] {lower, Math.nextUp(lower), (float) ((lower + (double) upper) / 2),
                    Math.nextDown(upper)}) {
                if (x >= upper) continue;  // the midpoint of two subnormal neighbours may round onto one
                boolean exact = x == lower;

                // when the float is rounded toward -inf and +inf, and its negation too
                // then down gives the lower neighbour, up the upper one (both the value itself when exact)
                assertThat(Halfs.f16RoundDown(x) & 0xFFFF).as("down %s", x).isEqualTo(h);
                assertThat(Halfs.f16RoundUp(x) & 0xFFFF).as("up %s", x).isEqualTo(exact ? h : h + 1);
                assertThat(Halfs.f16RoundUp(-x) & 0xFFFF).as("up %s", -x).isEqualTo(0x8000 | h);
                assertThat(Halfs.f16RoundDown(-x) & 0xFFFF).as("down %s", -x).isEqualTo(0x8000 | (exact ? h : h + 1));
            }
        }
    }

    @ParameterizedTest(name = "{0}: down 0x{1}, up 0x{2}")
    @CsvSource({
            "65504.0, 7BFF, 7BFF",
            "65505.0, 7BFF, 7C00",          // beyond the largest half: down stays finite, up overflows
            "1.0E30, 7BFF, 7C00",
            "-65505.0, FC00, FBFF",
            "Infinity, 7C00, 7C00",
            "-Infinity, FC00, FC00",
            "1.0E-10, 0000, 0001",          // below the smallest subnormal
            "-1.0E-10, 8001, 8000",         // up keeps the sign of a negative result that rounds to zero
            "0.0, 0000, 0000",
            "-0.0, 8000, 8000",
    })
    void should_round_the_ends_of_the_half_range_outward_or_to_the_largest_finite(float x, String down, String up) {
        assertThat(Halfs.f16RoundDown(x) & 0xFFFF).isEqualTo(Integer.parseInt(down, 16));
        assertThat(Halfs.f16RoundUp(x) & 0xFFFF).isEqualTo(Integer.parseInt(up, 16));
    }

    @Test
    void should_keep_nan_when_rounding_to_a_half() {
        assertThat(Halfs.f16ToFloat(Halfs.f16RoundDown(Float.NaN))).isNaN();
        assertThat(Halfs.f16ToFloat(Halfs.f16RoundUp(Float.NaN))).isNaN();
    }

    /** binary16's textbook definition, for positive finite patterns. */
    private static float textbookValue(int h) {
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        return (float) (exponent == 0 ? mantissa * Math.pow(2, -24) : (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15));
    }

    @ParameterizedTest(name = "bf16 0x{0} = {1}")
    @CsvSource({
            "3F80, 1.0",
            "C040, -3.0",
            "3E80, 0.25",
            "4049, 3.140625",            // pi cut to 7 mantissa bits
            "7F7F, 3.3895313892515355E38", // largest finite bf16
            "0080, 1.1754943508222875E-38", // smallest normal float
            "0001, 9.183549615799121E-41",  // smallest bf16 subnormal, 2^-133
            "7F80, Infinity",
            "FF80, -Infinity",
    })
    void should_convert_known_bf16_values(String hex, double expected) {
        assertThat(Halfs.bf16ToFloat((short) Integer.parseInt(hex, 16))).isEqualTo((float) expected);
    }

    @Test
    void should_produce_nan_for_bf16_nan() {
        assertThat(Halfs.bf16ToFloat((short) 0x7FC0)).isNaN();
        assertThat(Halfs.bf16ToFloat((short) 0xFFC1)).isNaN();
    }
}
