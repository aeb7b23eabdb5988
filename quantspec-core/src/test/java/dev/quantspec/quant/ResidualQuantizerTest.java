package dev.quantspec.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quantspec.QuantSpecException;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResidualQuantizerTest {
    private static final int[] GROUP_SIZES = {1, 2, 3, 17, 64, 128};

    /**
     * The formulas of QUANTSPEC.md written out independently, in plain float loops, with the params rounded
     * outward to fp16 (the minimum toward -inf, the scale toward +inf) as the cache stores them.
     */
    record Reference(float scale, float mn, int[] upper, int[] lower, int[] rawLower) {
        static Reference of(float[] x) {
            float mn = x[0];
            float mx = x[0];
            for (float v : x) {
                if (v < mn) {
                    mn = v;
                }
                if (v > mx) {
                    mx = v;
                }
            }
            mn = TextbookHalves.atOrBelow(mn);
            float scale = (mx - mn) / 15f;
            if (scale < ResidualQuantizer.SCALE_FLOOR) {
                scale = ResidualQuantizer.SCALE_FLOOR;
            }
            scale = TextbookHalves.atOrAbove(scale);
            int n = x.length;
            int[] upper = new int[n];
            int[] lower = new int[n];
            int[] rawLower = new int[n];
            for (int i = 0; i < n; i++) {
                float ratio = (x[i] - mn) / scale;
                int u = (int) Math.rint(ratio);
                if (u < 0) {
                    u = 0;
                }
                if (u > 15) {
                    u = 15;
                }
                float x4 = u * scale + mn;
                float residual = x[i] - x4;
                float step = scale / 16f;
                int l = (int) Math.rint(residual / step);
                rawLower[i] = l;
                if (l < -8) {
                    l = -8;
                }
                if (l > 7) {
                    l = 7;
                }
                upper[i] = u;
                lower[i] = l + 8;
            }
            return new Reference(scale, mn, upper, lower, rawLower);
        }
    }

    /** What {@link ResidualQuantizer#quantizeGroup} wrote for one contiguous group. */
    record Quantized(float scale, float mn, int[] upper, int[] lower) {
        static Quantized of(float[] x) {
            NibblePlane upper = new NibblePlane(x.length);
            NibblePlane lower = new NibblePlane(x.length);
            float[] params = new float[2];
            ResidualQuantizer.quantizeGroup(x, 0, 1, x.length, upper, lower, 0, 1, params, 0);
            int[] u = new int[x.length];
            int[] l = new int[x.length];
            for (int i = 0; i < x.length; i++) {
                u[i] = upper.get(i);
                l[i] = lower.get(i);
            }
            return new Quantized(params[0], params[1], u, l);
        }

        float x4(int i) {
            return ResidualQuantizer.dequant4(upper[i], scale, mn);
        }

        float x8(int i) {
            return ResidualQuantizer.dequant8(upper[i], lower[i], scale, mn);
        }
    }

    @Test
    void should_match_the_reference_codes_and_params_for_strided_groups_on_random_data() {
        Random random = new Random(1234);
        for (int seed = 0; seed < 300; seed++) {
            for (int n : GROUP_SIZES) {
                // given: a group spread over a strided source, written to strided nibble positions
                float[] group = randomGroup(random, n);
                int srcStride = 1 + random.nextInt(5);
                int srcOff = random.nextInt(4);
                float[] src = new float[srcOff + n * srcStride];
                java.util.Arrays.fill(src, Float.NaN); // neighbours must never be read
                for (int i = 0; i < n; i++) {
                    src[srcOff + i * srcStride] = group[i];
                }
                int dstStride = 1 + random.nextInt(3);
                long dstNibble = random.nextInt(5);
                long capacity = dstNibble + (long) n * dstStride + 3;
                NibblePlane upper = randomPlane(random, capacity);
                NibblePlane lower = randomPlane(random, capacity);
                int[] upperBefore = codes(upper);
                int[] lowerBefore = codes(lower);
                float[] params = {9f, 9f, 9f, 9f};

                // when
                ResidualQuantizer.quantizeGroup(src, srcOff, srcStride, n, upper, lower, dstNibble, dstStride, params, 1);

                // then
                Reference ref = Reference.of(group);
                String where = "seed " + seed + ", n " + n;
                assertThat(params[1]).as("scale, %s", where).isEqualTo(ref.scale());
                assertThat(params[2]).as("min, %s", where).isEqualTo(ref.mn());
                assertThat(params[0]).as("params before paramsOff").isEqualTo(9f);
                assertThat(params[3]).as("params after the pair").isEqualTo(9f);
                for (long p = 0; p < capacity; p++) {
                    long rel = p - dstNibble;
                    if (rel >= 0 && rel % dstStride == 0 && rel / dstStride < n) {
                        int i = (int) (rel / dstStride);
                        assertThat(upper.get(p)).as("upper code %d, %s", i, where).isEqualTo(ref.upper()[i]);
                        assertThat(lower.get(p)).as("lower code %d, %s", i, where).isEqualTo(ref.lower()[i]);
                    } else {
                        assertThat(upper.get(p)).as("untouched upper nibble %d, %s", p, where).isEqualTo(upperBefore[(int) p]);
                        assertThat(lower.get(p)).as("untouched lower nibble %d, %s", p, where).isEqualTo(lowerBefore[(int) p]);
                    }
                }
            }
        }
    }

    @Test
    void should_decode_within_half_a_step_for_4_bits_and_a_32nd_for_unclamped_8_bits() {
        Random random = new Random(99);
        int values = 0;
        int clamped = 0;
        for (int seed = 0; seed < 300; seed++) {
            for (int n : GROUP_SIZES) {
                // given
                float[] x = randomGroup(random, n);

                // when
                Quantized q = Quantized.of(x);

                // then
                Reference ref = Reference.of(x);
                for (int i = 0; i < n; i++) {
                    assertWithinBounds(x, q, i, ref.rawLower()[i] > 7);
                    values++;
                    clamped += ref.rawLower()[i] > 7 ? 1 : 0;
                }
            }
        }
        // The clamp at +7 hits residuals in (15/32, 1/2] of a step: rare, never the rule.
        assertThat((double) clamped / values).isLessThan(0.06);
    }

    @Test
    void should_clamp_a_residual_near_half_a_step_so_the_8_bit_error_can_reach_a_16th() {
        // given: scale 1, and 0.49 is 7.84 sixteenths above the code 0, which rounds to 8 > 7
        float[] x = {0f, 15f, 0.49f};

        // when
        Quantized q = Quantized.of(x);

        // then: the normative formula clamps l to 7 (stored 15), so x8 = 7/16
        assertThat(q.scale()).isEqualTo(1f);
        assertThat(q.upper()[2]).isZero();
        assertThat(q.lower()[2]).isEqualTo(15);
        assertThat(q.x8(2)).isEqualTo(0.4375f);
        assertThat(Math.abs(x[2] - q.x8(2))).isGreaterThan(1f / 32).isLessThanOrEqualTo(1f / 16);
    }

    @Test
    void should_round_half_to_even_like_torch_round_and_cuda_rintf() {
        // given: scale 1, so 2.5 and 3.5 are exact ties
        float[] x = {0f, 15f, 2.5f, 3.5f, 0.5f};

        // when
        Quantized q = Quantized.of(x);

        // then: Math.round would give 3, 4, 1
        assertThat(q.upper()[2]).isEqualTo(2);
        assertThat(q.upper()[3]).isEqualTo(4);
        assertThat(q.upper()[4]).isEqualTo(0);
        // the residual +0.5 is 8 sixteenths: clamped to 7; -0.5 is -8 sixteenths: representable
        assertThat(q.lower()[2]).isEqualTo(15);
        assertThat(q.lower()[3]).isEqualTo(0);
        assertThat(q.x8(3)).isEqualTo(3.5f);
    }

    @ParameterizedTest
    @ValueSource(floats = {0f, 3.25f, -65504f, 65504f, 0x1p-24f, -1.5f})
    void should_decode_a_constant_group_of_a_half_exactly_to_its_value(float value) {
        for (int n : GROUP_SIZES) {
            // given
            float[] x = new float[n];
            java.util.Arrays.fill(x, value);

            // when
            Quantized q = Quantized.of(x);

            // then: the smallest half as the scale (the floor rounded up), the value itself as the minimum
            assertThat(q.scale()).isEqualTo(0x1p-24f);
            assertThat(q.mn()).isEqualTo(value);
            for (int i = 0; i < n; i++) {
                assertThat(q.upper()[i]).isZero();
                assertThat(q.lower()[i]).isEqualTo(8);
                assertThat(q.x4(i)).isEqualTo(value);
                assertThat(q.x8(i)).isEqualTo(value);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(floats = {3.3f, 1000.1f, -7.5e-39f, 1e-30f, -0.1f})
    void should_decode_a_constant_group_that_is_no_half_within_the_bounds(float value) {
        for (int n : GROUP_SIZES) {
            // given
            float[] x = new float[n];
            java.util.Arrays.fill(x, value);

            // when
            Quantized q = Quantized.of(x);

            // then: the minimum is the half below, and the codes carry the difference
            Reference ref = Reference.of(x);
            assertThat(q.mn()).isLessThan(value).isEqualTo(ref.mn());
            for (int i = 0; i < n; i++) {
                assertWithinBounds(x, q, i, ref.rawLower()[i] > 7);
            }
        }
    }

    @Test
    void should_keep_the_scale_normal_when_the_range_is_denormal() {
        // given: a range far below the floor, made of denormals
        float[] x = {0f, Float.MIN_VALUE, 3 * Float.MIN_VALUE, Float.MIN_NORMAL / 2};

        // when
        Quantized q = Quantized.of(x);

        // then: no division by a zero or denormal step, and every view is finite and close
        assertThat(q.scale()).isEqualTo(0x1p-24f);
        assertThat(q.scale() / 16f).isGreaterThanOrEqualTo(Float.MIN_NORMAL);
        for (int i = 0; i < x.length; i++) {
            assertThat(q.x4(i)).isFinite();
            assertThat(q.x8(i)).isFinite();
            assertThat((double) Math.abs(x[i] - q.x8(i))).isLessThanOrEqualTo(Float.MIN_NORMAL);
        }
    }

    @ParameterizedTest
    @ValueSource(floats = {1e3f, 3e4f, 65504f})
    void should_stay_finite_and_within_bounds_for_huge_ranges_mixed_with_tiny_values(float huge) {
        Random random = new Random(5);
        for (int trial = 0; trial < 50; trial++) {
            for (int n : new int[] {2, 3, 17, 64, 128}) {
                // given: a few huge values of both signs among tiny ones
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = random.nextInt(4) == 0
                            ? (float) (huge * (random.nextDouble() * 2 - 1))
                            : (float) (1e-3 * random.nextGaussian());
                }

                // when
                Quantized q = Quantized.of(x);

                // then
                Reference ref = Reference.of(x);
                assertThat(q.scale()).isFinite().isPositive();
                for (int i = 0; i < n; i++) {
                    assertThat(q.x4(i)).isFinite();
                    assertThat(q.x8(i)).isFinite();
                    assertWithinBounds(x, q, i, ref.rawLower()[i] > 7);
                }
            }
        }
    }

    @Test
    void should_bound_every_error_by_the_outliers_scale_when_one_value_dominates() {
        // given: 63 values in [-1, 1] and one outlier at 1000
        Random random = new Random(3);
        float[] x = new float[64];
        for (int i = 0; i < 63; i++) {
            x[i] = (float) (random.nextDouble() * 2 - 1);
        }
        x[63] = 1000f;

        // when
        Quantized q = Quantized.of(x);

        // then: the outlier is decoded within bounds, and the inliers collapse onto the first code
        Reference ref = Reference.of(x);
        assertThat(q.upper()[63]).isEqualTo(15);
        for (int i = 0; i < 64; i++) {
            assertWithinBounds(x, q, i, ref.rawLower()[i] > 7);
        }
        for (int i = 0; i < 63; i++) {
            assertThat(q.upper()[i]).isZero();
        }
    }

    @Test
    void should_reject_non_finite_values_naming_the_element() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            // given
            float[] src = {1f, 2f, 3f, 4f, 5f, 6f};
            src[4] = bad;
            NibblePlane upper = new NibblePlane(3);
            NibblePlane lower = new NibblePlane(3);

            // when / then: elements 0, 2, 4 with stride 2; the bad one is element 2
            assertThatThrownBy(() -> ResidualQuantizer.quantizeGroup(src, 0, 2, 3, upper, lower, 0, 1, new float[2], 0))
                    .isInstanceOf(QuantSpecException.class)
                    .hasMessageContaining("element 2")
                    .hasMessageContaining("src[4]")
                    .hasMessageContaining(String.valueOf(bad));
        }
    }

    @ParameterizedTest
    @ValueSource(floats = {-65505f, -1e6f, -3e38f})
    void should_reject_a_group_whose_minimum_is_below_the_half_range(float min) {
        // given
        float[] src = {min, 1f, 2f};

        // when / then
        assertThatThrownBy(() -> Quantized.of(src))
                .isInstanceOf(QuantSpecException.class)
                .hasMessageContaining("do not fit fp16")
                .hasMessageContaining(String.valueOf(min));
    }

    @Test
    void should_reject_a_group_whose_scale_exceeds_the_largest_half() {
        // given: (max - min) / 15 just above 65504
        float[] src = {-1f, 15 * 65600f};

        // when / then
        assertThatThrownBy(() -> Quantized.of(src))
                .isInstanceOf(QuantSpecException.class)
                .hasMessageContaining("do not fit fp16");
        // and a range just inside is accepted
        assertThat(Quantized.of(new float[] {-1f, 15 * 65000f}).scale()).isFinite();
    }

    @Test
    void should_store_params_that_are_halves() {
        Random random = new Random(11);
        for (int trial = 0; trial < 2000; trial++) {
            // given
            float[] x = randomGroup(random, 1 + random.nextInt(128));

            // when
            Quantized q = Quantized.of(x);

            // then: both params are values a half holds exactly (fp16 storage on the GPU loses nothing)
            assertThat(TextbookHalves.isHalf(q.scale())).as("scale %s", q.scale()).isTrue();
            assertThat(TextbookHalves.isHalf(q.mn())).as("min %s", q.mn()).isTrue();
        }
    }

    @Test
    void should_reject_an_empty_group() {
        assertThatThrownBy(() -> ResidualQuantizer.quantizeGroup(new float[1], 0, 1, 0,
                new NibblePlane(1), new NibblePlane(1), 0, 1, new float[2], 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * |x - x4| <= scale/2 and |x - x8| <= scale/32 (scale/16 where the lower code was clamped at +7),
     * plus a few ulps of the magnitudes involved for the float arithmetic.
     */
    private static void assertWithinBounds(float[] x, Quantized q, int i, boolean lowerClamped) {
        double scale = q.scale();
        double magnitude = Math.max(Math.max(Math.abs(x[i]), Math.abs(q.mn())), 15 * scale);
        double slack = 8 * Math.ulp((float) magnitude);
        double e4 = Math.abs((double) x[i] - q.x4(i));
        double e8 = Math.abs((double) x[i] - q.x8(i));
        assertThat(e4).as("|x - x4| of element %d (x=%s, scale=%s)", i, x[i], scale).isLessThanOrEqualTo(scale / 2 + slack);
        double bound8 = lowerClamped ? scale / 16 : scale / 32;
        assertThat(e8).as("|x - x8| of element %d (x=%s, scale=%s)", i, x[i], scale).isLessThanOrEqualTo(bound8 + slack);
    }

    private static float[] randomGroup(Random random, int n) {
        double magnitude = Math.pow(10, random.nextInt(8) - 4); // 1e-4 .. 1e3: min stays inside the half range
        double offset = random.nextBoolean() ? 0 : magnitude * random.nextGaussian() * 3;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (offset + magnitude * (random.nextBoolean() ? random.nextGaussian() : random.nextDouble() * 2 - 1));
        }
        return x;
    }

    private static NibblePlane randomPlane(Random random, long capacity) {
        NibblePlane plane = new NibblePlane(capacity);
        for (long i = 0; i < capacity; i++) {
            plane.set(i, random.nextInt(16));
        }
        return plane;
    }

    private static int[] codes(NibblePlane plane) {
        int[] codes = new int[(int) plane.capacity()];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = plane.get(i);
        }
        return codes;
    }
}
