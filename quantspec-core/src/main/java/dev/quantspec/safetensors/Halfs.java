package dev.quantspec.safetensors;

/**
 * Conversions from the two 16-bit float formats to {@code float}. Java 17 has no
 * {@code Float.float16ToFloat} (it arrived in Java 20), so the IEEE half conversion is written
 * out here, including subnormals, infinities and NaN.
 */
public final class Halfs {
    private Halfs() {}

    /**
     * bfloat16 is the upper half of a float32: same sign and 8-bit exponent, mantissa cut to 7
     * bits. Shifting the bits back into place is exact for every value, NaN and inf included.
     */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * IEEE 754 binary16 (1 sign, 5 exponent bits with bias 15, 10 mantissa bits) to float32.
     * Every half value is exactly representable as a float, so the conversion is exact.
     */
    public static float f16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            // Infinity (mantissa 0) or NaN; the NaN payload moves to the top of the float mantissa.
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mantissa << 13));
        }
        if (exponent != 0) {
            // Normal number: rebias the exponent from 15 to 127 (+112), widen the mantissa.
            return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
        }
        // Zero or subnormal: value = mantissa * 2^-24, which a float holds exactly (normalized).
        float magnitude = mantissa * 0x1p-24f;
        return sign != 0 ? -magnitude : magnitude;
    }
}
