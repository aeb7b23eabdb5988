package dev.quantspec.quant;

import java.util.Arrays;

/**
 * Every finite binary16 value in value order, from the format's textbook definition, for tests that need the
 * fp16 neighbours of a float without the bit manipulation under test ({@code Halfs}): the quantizer's params are
 * the half at or below the group's minimum and the half at or above its scale.
 */
public final class TextbookHalves {
    private static final double[] HALVES = build();

    private TextbookHalves() {}

    /** The largest half not above v (-inf below the range; v itself for a signed zero). */
    public static float atOrBelow(float v) {
        int i = Arrays.binarySearch(HALVES, v);
        if (i >= 0) return v;
        int below = -i - 2;
        return below < 0 ? Float.NEGATIVE_INFINITY : (float) HALVES[below];
    }

    /** The smallest half not below v (+inf above the range; v itself for a signed zero). */
    public static float atOrAbove(float v) {
        int i = Arrays.binarySearch(HALVES, v);
        if (i >= 0) return v;
        int above = -i - 1;
        return above >= HALVES.length ? Float.POSITIVE_INFINITY : (float) HALVES[above];
    }

    public static boolean isHalf(float v) {
        return Arrays.binarySearch(HALVES, v) >= 0;
    }

    private static double[] build() {
        double[] positive = new double[0x7C00];  // 0x0000 .. 0x7BFF
        for (int h = 0; h < positive.length; h++) {
            int exponent = h >>> 10;
            int mantissa = h & 0x3FF;
            positive[h] = exponent == 0 ? mantissa * Math.pow(2, -24) : (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
        }
        double[] all = new double[2 * positive.length - 1];  // +0 once
        for (int h = 1; h < positive.length; h++) {
            all[positive.length - 1 - h] = -positive[h];
        }
        System.arraycopy(positive, 0, all, positive.length - 1, positive.length);
        return all;
    }
}
