package dev.quantspec.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.quantspec.ModelFormatException;
import dev.quantspec.tensor.ArrayMatrix;
import dev.quantspec.tensor.Simd;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Q4MatrixTest {
    private static final int[] ROWS = {1, 7, 33};
    private static final int[] COLS = {64, 100, 130, 259};
    private static final int[] GROUP_SIZES = {128, 32};
    /** Group sizes that make the SIMD kernel run 0, 1, 2 or 3 whole blocks per group, plus a tail. */
    private static final int[] SIMD_GROUP_SIZES = {2, 32, 64, 96, 128, 192, 256};

    /** A kernel entry point with the {@link Q4Matrix#matMul} signature. */
    interface Kernel {
        void matMul(Q4Matrix m, float[] x, int xOff, int xStride, int n,
                    float[] out, int outOff, int outStride, int rowStart, int rowEnd);
    }

    private static final Kernel SCALAR = ScalarQ4::matMul;
    private static final Kernel SIMD = Q4SimdKernel::matMul;
    private static final Kernel DISPATCH = (m, x, xOff, xStride, n, out, outOff, outStride, rs, re) ->
            m.matMul(x, xOff, xStride, n, out, outOff, outStride, rs, re);

    @Test
    void should_match_the_reference_codes_and_params_for_awkward_shapes() {
        Random random = new Random(42);
        for (int rows : ROWS) {
            for (int cols : COLS) {
                for (int groupSize : GROUP_SIZES) {
                    // given
                    float[] w = randomWeights(random, rows, cols);

                    // when
                    Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(rows, cols, w), groupSize);

                    // then
                    String shape = rows + "x" + cols + " g" + groupSize;
                    int groups = (cols + groupSize - 1) / groupSize;
                    assertThat(q.groupsPerRow()).isEqualTo(groups);
                    float[] row = new float[cols];
                    for (int r = 0; r < rows; r++) {
                        q.readRow(r, row, 0);
                        for (int g = 0; g < groups; g++) {
                            int start = g * groupSize;
                            int end = Math.min(start + groupSize, cols);
                            float[] ref = referenceGroup(w, r * cols + start, end - start);
                            float scale = ref[0];
                            float mn = ref[1];
                            assertThat(q.scale(r, g)).as("scale (%d, %d) of %s", r, g, shape).isEqualTo(scale);
                            assertThat(q.min(r, g)).as("min (%d, %d) of %s", r, g, shape).isEqualTo(mn);
                            for (int c = start; c < end; c++) {
                                int code = (int) ref[2 + c - start];
                                float original = w[r * cols + c];
                                assertThat(q.code(r, c)).as("code (%d, %d) of %s", r, c, shape).isEqualTo(code);
                                assertThat(row[c]).as("readRow (%d, %d) of %s", r, c, shape).isEqualTo(code * scale + mn);
                                double slack = 8 * Math.ulp(Math.max(Math.abs(original), Math.abs(mn)) + 15 * scale);
                                assertThat(Math.abs((double) original - row[c])).as("|w - w4| at (%d, %d) of %s", r, c, shape)
                                        .isLessThanOrEqualTo(scale / 2 + slack);
                            }
                        }
                        if (cols % 2 == 1) {
                            assertThat(q.codes().get(2L * q.rowBytes() * r + cols)).as("pad nibble of row %d", r).isZero();
                        }
                    }
                }
            }
        }
    }

    @Test
    void should_agree_with_a_double_reference_for_both_kernels() {
        Random random = new Random(17);
        for (int rows : ROWS) {
            for (int cols : COLS) {
                for (int groupSize : SIMD_GROUP_SIZES) {
                    // given
                    Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(rows, cols, randomWeights(random, rows, cols)), groupSize);
                    int n = 3;
                    float[] x = randomVector(random, n * cols);
                    double[][] bound = new double[n][rows];
                    double[][] expected = referenceMatMul(q, x, n, bound);

                    for (Kernel kernel : new Kernel[] {SCALAR, SIMD, DISPATCH}) {
                        // when
                        float[] out = new float[n * rows];
                        kernel.matMul(q, x, 0, cols, n, out, 0, rows, 0, rows);

                        // then: only the summation order differs from the exact sum of w4 * x
                        for (int t = 0; t < n; t++) {
                            for (int r = 0; r < rows; r++) {
                                assertThat((double) out[t * rows + r])
                                        .as("out[%d][%d] of %dx%d g%d", t, r, rows, cols, groupSize)
                                        .isCloseTo(expected[t][r], org.assertj.core.data.Offset.offset(1e-5 * bound[t][r] + 1e-30));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void should_give_close_results_from_the_simd_and_scalar_kernels() {
        Random random = new Random(23);
        for (int groupSize : SIMD_GROUP_SIZES) {
            for (int cols : new int[] {64, 259, 512, 1000}) {
                // given
                int rows = 33;
                Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(rows, cols, randomWeights(random, rows, cols)), groupSize);
                float[] x = randomVector(random, cols);
                double[][] bound = new double[1][rows];
                referenceMatMul(q, x, 1, bound);
                float[] scalar = new float[rows];
                float[] simd = new float[rows];

                // when
                ScalarQ4.matMul(q, x, 0, cols, 1, scalar, 0, rows, 0, rows);
                Q4SimdKernel.matMul(q, x, 0, cols, 1, simd, 0, rows, 0, rows);

                // then
                for (int r = 0; r < rows; r++) {
                    assertThat(simd[r]).as("row %d of %dx%d g%d", r, rows, cols, groupSize)
                            .isCloseTo(scalar[r], org.assertj.core.data.Offset.offset((float) (1e-5 * bound[0][r])));
                }
            }
        }
    }

    @Test
    void should_be_batch_invariant_bit_for_bit_for_both_kernels() {
        Random random = new Random(31);
        for (Kernel kernel : new Kernel[] {SCALAR, SIMD, DISPATCH}) {
            for (int cols : new int[] {100, 259, 384}) {
                for (int groupSize : new int[] {32, 128}) {
                    // given: 9 positions in a padded buffer
                    int rows = 7;
                    Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(rows, cols, randomWeights(random, rows, cols)), groupSize);
                    int xStride = cols + 5;
                    int xOff = 3;
                    int maxN = 9;
                    float[] x = randomVector(random, xOff + maxN * xStride);
                    float[][] single = new float[maxN][rows];
                    for (int t = 0; t < maxN; t++) {
                        for (int r = 0; r < rows; r++) {
                            float[] one = new float[1];
                            kernel.matMul(q, x, xOff + t * xStride, xStride, 1, one, -r, 0, r, r + 1);
                            single[t][r] = one[0];
                        }
                    }

                    for (int n = 1; n <= maxN; n++) {
                        // when: n positions at once, rows split in two ranges like two worker threads
                        int outStride = rows + 2;
                        int outOff = 1;
                        float[] out = new float[outOff + n * outStride];
                        Arrays.fill(out, Float.NaN);
                        kernel.matMul(q, x, xOff, xStride, n, out, outOff, outStride, 0, 3);
                        kernel.matMul(q, x, xOff, xStride, n, out, outOff, outStride, 3, rows);

                        // then
                        for (int t = 0; t < n; t++) {
                            for (int r = 0; r < rows; r++) {
                                assertThat(Float.floatToRawIntBits(out[outOff + t * outStride + r]))
                                        .as("bits of out[%d][%d] with n=%d, %d cols, g%d", t, r, n, cols, groupSize)
                                        .isEqualTo(Float.floatToRawIntBits(single[t][r]));
                            }
                            for (int pad = rows; pad < outStride && outOff + t * outStride + pad < out.length; pad++) {
                                assertThat(out[outOff + t * outStride + pad]).as("untouched padding").isNaN();
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void should_dispatch_to_the_simd_kernel_when_the_vector_api_is_enabled_and_groups_fill_a_block() {
        // the build runs tests with the incubator module: if it is missing, the fast path is untested
        assertThat(Simd.enabled()).as("Vector API present in the test JVM").isTrue();
        Random random = new Random(8);
        for (int groupSize : new int[] {32, 128, 256}) {
            // given
            Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(5, 256, randomWeights(random, 5, 256)), groupSize);
            float[] x = randomVector(random, 256);
            float[] viaMatrix = new float[5];
            float[] viaKernel = new float[5];

            // when
            q.matMul(x, 0, 256, 1, viaMatrix, 0, 5, 0, 5);
            (groupSize >= Q4SimdKernel.blockSize() ? SIMD : SCALAR).matMul(q, x, 0, 256, 1, viaKernel, 0, 5, 0, 5);

            // then
            assertThat(viaMatrix).as("group size %d", groupSize).containsExactly(viaKernel);
        }
    }

    @Test
    void should_report_packed_bytes_plus_two_floats_per_group() {
        // given / when
        Q4Matrix even = Q4Matrix.quantize(new ArrayMatrix(7, 256, new float[7 * 256]), 128);
        Q4Matrix odd = Q4Matrix.quantize(new ArrayMatrix(3, 259, new float[3 * 259]), 32);

        // then: 7 rows x 128 bytes + 7 x 2 groups x 8 bytes; 3 x 130 bytes + 3 x 9 groups x 8 bytes
        assertThat(even.byteSize()).isEqualTo(7 * 128 + 7 * 2 * 8);
        assertThat(odd.byteSize()).isEqualTo(3 * 130 + 3 * 9 * 8);
        assertThat(odd.rowBytes()).isEqualTo(130);
    }

    @Test
    void should_decode_a_constant_group_exactly() {
        // given: one row of a constant value, one row with a constant last group
        float[] w = new float[2 * 130];
        Arrays.fill(w, 0, 130, -0.75f);
        for (int c = 0; c < 130; c++) {
            w[130 + c] = c < 128 ? c * 0.01f : 2.5f;
        }

        // when
        Q4Matrix q = Q4Matrix.quantize(new ArrayMatrix(2, 130, w), 128);

        // then
        float[] row = new float[130];
        q.readRow(0, row, 0);
        assertThat(row).containsOnly(-0.75f);
        q.readRow(1, row, 0);
        assertThat(row[128]).isEqualTo(2.5f);
        assertThat(row[129]).isEqualTo(2.5f);
        assertThat(q.scale(1, 1)).isEqualTo(0x1p-24f);  // the floor rounded up to the smallest half
    }

    @Test
    void should_reject_non_finite_weights_naming_the_element() {
        // given
        float[] w = new float[3 * 64];
        w[2 * 64 + 17] = Float.NaN;

        // when / then
        assertThatThrownBy(() -> Q4Matrix.quantize(new ArrayMatrix(3, 64, w), 32))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("(2, 17)")
                .hasMessageContaining("NaN");
    }

    @Test
    void should_reject_odd_group_sizes() {
        assertThatThrownBy(() -> Q4Matrix.quantize(new ArrayMatrix(1, 64, new float[64]), 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("even");
    }

    /**
     * Scale, minimum and codes of one group by the formulas, in plain float loops, the params rounded outward to
     * halves (the minimum down, the scale up): {scale, min, q0, q1, ...}.
     */
    private static float[] referenceGroup(float[] w, int off, int len) {
        float mn = w[off];
        float mx = w[off];
        for (int i = off; i < off + len; i++) {
            mn = w[i] < mn ? w[i] : mn;
            mx = w[i] > mx ? w[i] : mx;
        }
        mn = TextbookHalves.atOrBelow(mn);
        float scale = (mx - mn) / 15f;
        if (scale < ResidualQuantizer.SCALE_FLOOR) {
            scale = ResidualQuantizer.SCALE_FLOOR;
        }
        scale = TextbookHalves.atOrAbove(scale);
        float[] result = new float[2 + len];
        result[0] = scale;
        result[1] = mn;
        for (int i = 0; i < len; i++) {
            long q = Math.round(Math.rint((w[off + i] - mn) / scale));
            result[2 + i] = Math.max(0, Math.min(15, q));
        }
        return result;
    }

    /**
     * The exact product of the dequantized matrix with x, in double; {@code bound[t][r]} receives
     * {@code sum |scale*q*x| + |min*x|}, the scale of the rounding error of any float summation order.
     */
    private static double[][] referenceMatMul(Q4Matrix q, float[] x, int n, double[][] bound) {
        int rows = q.rows();
        int cols = q.cols();
        double[][] result = new double[n][rows];
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            q.readRow(r, row, 0);
            for (int t = 0; t < n; t++) {
                double sum = 0;
                double abs = 0;
                for (int c = 0; c < cols; c++) {
                    double xc = x[t * cols + c];
                    int g = c / q.groupSize();
                    sum += (double) row[c] * xc;
                    // the kernels sum scale*q*x and min*x separately: both magnitudes bound their error
                    abs += Math.abs((double) q.scale(r, g) * q.code(r, c) * xc) + Math.abs((double) q.min(r, g) * xc);
                }
                result[t][r] = sum;
                bound[t][r] = abs;
            }
        }
        return result;
    }

    private static float[] randomWeights(Random random, int rows, int cols) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.05 * random.nextGaussian() + (i % 7 == 0 ? 0.02 : 0));
        }
        return w;
    }

    private static float[] randomVector(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }
}
