package dev.quantspec.cuda;

import dev.quantspec.safetensors.Halfs;

/**
 * Bit conversions between fp32 and the two 16-bit formats the GPU path stores: bf16 (weights) and
 * IEEE fp16 (the KV cache). The narrowing rounds to nearest even, as the CUDA conversions do; the
 * widening is {@link Halfs}' (exact).
 */
final class HalfFloats {
    private HalfFloats() {}

    static float bf16ToFloat(short bits) {
        return Halfs.bf16ToFloat(bits);
    }

    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x40);
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    static float halfToFloat(short bits) {
        return Halfs.f16ToFloat(bits);
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
