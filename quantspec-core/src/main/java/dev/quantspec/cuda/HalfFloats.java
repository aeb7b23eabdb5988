package dev.quantspec.cuda;

/**
 * Bit conversions between fp32 and the two 16-bit formats the GPU path stores: bf16 (weights) and
 * IEEE fp16 (the KV cache). Both directions round to nearest even, as the CUDA conversions do.
 */
final class HalfFloats {
    private HalfFloats() {}

    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x40);
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;  // subnormal: mantissa * 2^-24, exact
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    static short floatToHalf(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        if (Float.isNaN(value)) return (short) (sign | 0x7e00);
        float magnitude = Math.abs(value);
        if (magnitude >= 65520f) return (short) (sign | 0x7c00);  // rounds to infinity
        if (magnitude < 0x1p-14f) {
            // Subnormal range: value / 2^-24 rounded to nearest even integer (Math.rint does that).
            return (short) (sign | (int) Math.rint(magnitude * 0x1p24f));
        }
        int abs = bits & 0x7fffffff;
        int roundingBias = 0xfff + ((abs >>> 13) & 1);
        int rounded = abs + roundingBias;  // carries into the exponent when the mantissa overflows
        return (short) (sign | (((rounded >>> 23) - 112) << 10) | ((rounded >>> 13) & 0x3ff));
    }
}
