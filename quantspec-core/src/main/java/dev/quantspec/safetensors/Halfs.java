package dev.quantspec.safetensors;

/**
 * Conversions between {@code float} and the two 16-bit float formats. Java 17 has no
 * {@code Float.float16ToFloat} (it arrived in Java 20), so the IEEE half conversion is written
 * out here, including subnormals, infinities and NaN. The narrowing direction rounds toward -inf or
 * +inf (the hierarchical KV cache stores its group params as halves rounded outward, see
 * {@code ResidualQuantizer}); CUDA's {@code __float2half_rd} / {@code __float2half_ru} give the same bits.
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

    /** Largest finite half, 65504, as a float. */
    private static final int F16_MAX_FLOAT_BITS = 0x477F_E000;

    /**
     * The largest half not above {@code x} (IEEE round toward -inf): a finite float beyond the half range
     * becomes 65504 when positive and -inf when negative; NaN stays NaN.
     */
    public static short f16RoundDown(float x) {
        short t = f16Truncate(x);
        return f16ToFloat(t) > x ? nextDown(t) : t;
    }

    /**
     * The smallest half not below {@code x} (IEEE round toward +inf): a finite float beyond the half range
     * becomes +inf when positive and -65504 when negative; NaN stays NaN.
     */
    public static short f16RoundUp(float x) {
        short t = f16Truncate(x);
        return f16ToFloat(t) < x ? nextUp(t) : t;
    }

    /** Round toward zero: drops the mantissa bits a half has no room for; never overflows to infinity. */
    private static short f16Truncate(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        if (abs > 0x7F80_0000) {
            return (short) (sign | 0x7E00);  // NaN
        }
        if (abs == 0x7F80_0000) {
            return (short) (sign | 0x7C00);  // infinity
        }
        if (abs >= F16_MAX_FLOAT_BITS) {
            return (short) (sign | 0x7BFF);  // beyond the half range: the largest finite half
        }
        int exponent = abs >>> 23;
        if (exponent >= 113) {
            // normal half: rebias the exponent from 127 to 15 (-112), keep the top 10 mantissa bits
            return (short) (sign | ((exponent - 112) << 10) | ((abs >>> 13) & 0x3FF));
        }
        // zero or subnormal half: mantissa = |x| / 2^-24, truncated (the scaling by 2^24 is exact)
        return (short) (sign | (int) (Math.abs(x) * 0x1p24f));
    }

    /** The next half toward +inf (the argument is not NaN and not +inf). */
    private static short nextUp(short h) {
        int v = h & 0xFFFF;
        if (v == 0x8000) {
            return 0x0001;  // -0 -> smallest positive subnormal
        }
        return (short) ((v & 0x8000) == 0 ? v + 1 : v - 1);
    }

    /** The next half toward -inf (the argument is not NaN and not -inf). */
    private static short nextDown(short h) {
        int v = h & 0xFFFF;
        if (v == 0x0000) {
            return (short) 0x8001;  // +0 -> smallest negative subnormal
        }
        return (short) ((v & 0x8000) == 0 ? v - 1 : v + 1);
    }
}
