package dev.quantspec.quant;

import dev.quantspec.QuantSpecException;
import dev.quantspec.safetensors.Halfs;

/**
 * Residual asymmetric 4/8-bit quantization of one group of values (QUANTSPEC.md, "Quantization of
 * one group"). One scale and one minimum per group serve two 4-bit codes per value: the upper code
 * alone is the draft's 4-bit view, upper and lower together the target's 8-bit view.
 *
 * <pre>
 *   mn    = down16(min(x))
 *   scale = up16(max((max(x) - mn) / 15, SCALE_FLOOR))
 *   u     = clamp(rint((x - mn) / scale), 0, 15)
 *   l     = clamp(rint((x - (u*scale + mn)) / (scale/16)), -8, 7) + 8      (stored 0..15)
 *   x4    = u*scale + mn                                                  (draft view)
 *   x8    = u*scale + (l - 8)*(scale/16) + mn                             (target view)
 * </pre>
 *
 * <p>This class is the ONE place these formulas are written. Every step is a single fp32 operation,
 * evaluated left to right exactly as above (Java never fuses a multiply and an add), and rounding is
 * {@link Math#rint} (half to even, like {@code torch.round} and CUDA {@code rintf}). A CUDA port
 * reproduces the same bits only if it forbids contraction into FMA ({@code __fmul_rn}/{@code __fadd_rn}
 * or {@code -fmad=false}) and divides with IEEE division ({@code __fdiv_rn}, not {@code --use_fast_math}).
 *
 * <p>The params are fp16 ({@code down16} / {@code up16}: the nearest half toward -inf / +inf,
 * {@link Halfs#f16RoundDown} / {@link Halfs#f16RoundUp}): the GPU stores them as a half2 per group, which
 * halves their share of the bytes an attention step streams (16 of 144 bytes per position and kv head for
 * the INT4 draft at G = 128 and head dim 128, 8 of 136 as halves). Rounding the minimum down and the scale up
 * keeps every value inside the group's 16 steps, so the codes absorb the rounding: the error bounds below
 * are those of the rounded scale, which is within one half-precision ulp of the exact one. The price: a
 * group whose minimum lies below -65504, or whose range exceeds 15 x 65504, is rejected like a non-finite one.
 *
 * <p>Known property of the formula (kept because it is normative): the lower code is clamped at +7,
 * so a value whose residual lies in (15/32, 1/2] of a scale step decodes with an 8-bit error up to
 * {@code scale/16} instead of {@code scale/32}; about 1 value in 32 of a uniform group. Values whose
 * residual is not clamped decode within {@code scale/32}.
 *
 * <p>Non-finite input (NaN, ±Inf) and groups whose params do not fit fp16 (see above) are
 * rejected with a {@link QuantSpecException}: a quantized NaN would silently poison every later
 * attention score, so the error surfaces where it enters the cache.
 */
public final class ResidualQuantizer {
    /**
     * Smallest scale before the rounding to fp16, 2^-100 (about 7.9e-31; {@link #scale} keeps this floor for the
     * 4-bit weights, which store fp32 params). In the KV cache's groups {@code up16} lifts it to 2^-24, the smallest
     * half: a constant group whose value is a half gets that scale, so every value quantizes to u = 0, l = 8 and
     * decodes EXACTLY to {@code mn}; {@code scale/16} stays a normal float (2^-28), so the divisions never produce
     * Inf or NaN. A power of two so that a CUDA kernel can write the same literal ({@code 0x1p-100f}).
     */
    public static final float SCALE_FLOOR = 0x1p-100f;

    /** Largest 4-bit code. */
    public static final int MAX_CODE = 15;

    /** Offset of the stored lower code: stored 0..15 means a residual of -8..7 sixteenths of a scale step. */
    public static final int LOWER_OFFSET = 8;

    private ResidualQuantizer() {}

    /**
     * Quantizes the {@code n} values {@code src[srcOff + i*srcStride]} ({@code i < n}) as one group:
     * writes the upper code of value {@code i} to {@code upper} and the lower code to {@code lower},
     * both at nibble position {@code dstNibble + i*dstStride}, and the group's scale and minimum to
     * {@code params[paramsOff]} and {@code params[paramsOff + 1]}.
     *
     * <p>Keys use {@code srcStride = head_dim} (one channel over consecutive tokens), values use
     * {@code srcStride = 1} (the channels of one token).
     *
     * @throws QuantSpecException if a value is NaN or infinite, or the group's params do not fit fp16
     */
    public static void quantizeGroup(float[] src, int srcOff, int srcStride, int n,
                                     NibblePlane upper, NibblePlane lower, long dstNibble, int dstStride,
                                     float[] params, int paramsOff) {
        if (n < 1 || srcStride < 1 || dstStride < 1) {
            throw new IllegalArgumentException("a group needs n >= 1 and strides >= 1, got n=" + n
                    + ", srcStride=" + srcStride + ", dstStride=" + dstStride);
        }
        float mn = src[srcOff];
        float mx = mn;
        for (int i = 1; i < n; i++) {
            float v = src[srcOff + i * srcStride];
            // Math.min/max propagate NaN, so one finiteness test of the range below catches it.
            mn = Math.min(mn, v);
            mx = Math.max(mx, v);
        }
        float min = mn;
        mn = storedMinimum(min);
        float scale = storedScale(mn, mx);
        if (!Float.isFinite(scale)) {
            throw nonFinite(src, srcOff, srcStride, n, min, mx);
        }
        for (int i = 0; i < n; i++) {
            float x = src[srcOff + i * srcStride];
            int u = upperCode(x, scale, mn);
            long at = dstNibble + (long) i * dstStride;
            upper.set(at, u);
            lower.set(at, lowerCode(x, u, scale, mn));
        }
        params[paramsOff] = scale;
        params[paramsOff + 1] = mn;
    }

    /**
     * The group's scale from its minimum and maximum: {@code max((mx - mn) / 15, SCALE_FLOOR)}.
     * Not finite when the range is (NaN or overflow); callers reject that.
     */
    public static float scale(float mn, float mx) {
        float scale = (mx - mn) / MAX_CODE;
        // Math.max keeps a NaN scale NaN, so the caller's finiteness check still sees it.
        return Math.max(scale, SCALE_FLOOR);
    }

    /** The minimum a group stores: {@code down16(min(x))}, the half at or below it (-inf below -65504). */
    public static float storedMinimum(float mn) {
        return Halfs.f16ToFloat(Halfs.f16RoundDown(mn));
    }

    /**
     * The scale a group stores, from its stored minimum: {@code up16(max((mx - mn) / 15, SCALE_FLOOR))}, the half at
     * or above it (+inf above 65504, so the caller's finiteness check rejects the group).
     */
    public static float storedScale(float storedMinimum, float mx) {
        return Halfs.f16ToFloat(Halfs.f16RoundUp(scale(storedMinimum, mx)));
    }

    /** {@code clamp(rint((x - mn) / scale), 0, 15)}. */
    public static int upperCode(float x, float scale, float mn) {
        int u = (int) Math.rint((x - mn) / scale);
        return Math.min(Math.max(u, 0), MAX_CODE);
    }

    /** {@code clamp(rint((x - dequant4(u)) / (scale/16)), -8, 7) + 8}: the stored lower code 0..15. */
    public static int lowerCode(float x, int u, float scale, float mn) {
        float residual = x - dequant4(u, scale, mn);
        int l = (int) Math.rint(residual / (scale / 16f));
        return Math.min(Math.max(l, -LOWER_OFFSET), MAX_CODE - LOWER_OFFSET) + LOWER_OFFSET;
    }

    /** The draft's 4-bit view: {@code u*scale + mn}. */
    public static float dequant4(int u, float scale, float mn) {
        return u * scale + mn;
    }

    /** The target's 8-bit view: {@code u*scale + (l - 8)*(scale/16) + mn}, summed left to right. */
    public static float dequant8(int u, int l, float scale, float mn) {
        return u * scale + (l - LOWER_OFFSET) * (scale / 16f) + mn;
    }

    private static QuantSpecException nonFinite(float[] src, int srcOff, int srcStride, int n, float mn, float mx) {
        for (int i = 0; i < n; i++) {
            float v = src[srcOff + i * srcStride];
            if (!Float.isFinite(v)) {
                return new QuantSpecException("cannot quantize a group of " + n + " values: element " + i
                        + " (src[" + (srcOff + i * srcStride) + "]) is " + v
                        + "; the model produced a non-finite activation");
            }
        }
        return new QuantSpecException("cannot quantize a group of " + n + " values starting at src[" + srcOff
                + "] (stride " + srcStride + "): its params do not fit fp16 (min " + mn + ", max " + mx
                + "; the minimum must be >= -65504 and (max - min) / 15 <= 65504)");
    }
}
