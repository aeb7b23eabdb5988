package dev.quantspec.cuda;

import static dev.quantspec.cuda.GpuTestData.bits;
import static dev.quantspec.cuda.GpuTestData.poisoned;
import static dev.quantspec.cuda.GpuTestData.randomBf16;
import static dev.quantspec.cuda.GpuTestData.randomFloats;
import static dev.quantspec.cuda.GpuTestData.upload;
import static dev.quantspec.cuda.GpuTestData.within;

import dev.quantspec.quant.Q4Matrix;
import dev.quantspec.tensor.ArrayMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fused 4-bit GEMVs of the draft pass (q4gemv.cuh {@code <kernel>_norm}, {@code <kernel>_norm_swiglu}) against a
 * double reference and against the kernels they replace: {@link DeviceQ4Matrix#gemvRmsNorm} within its derived
 * bound of the exact {@code RMSNorm(x) * weight} product, {@link DeviceQ4Matrix#gemvRmsNormSwiglu} bitwise
 * {@link DeviceQ4Matrix#gemvRmsNorm} followed by {@link CudaKernels#swigluRows}, {@link DeviceQ4Matrix#gemvRmsNormRopeAppend}
 * bitwise {@link DeviceQ4Matrix#gemvRmsNorm} followed by {@link CudaKernels#ropeAppendRows}. Shapes with partial pieces, partial
 * groups, rows that fill no whole block, and both kernels (rows >= 8192: 4 rows per warp). Runs only on a GPU host.
 */
@Tag("gpu")
class DeviceQ4MatrixFusedGpuTest {
    private static final double U = 0x1p-24;   // fp32 unit roundoff
    private static final double UH = 0x1p-11;  // fp16 unit roundoff
    private static CudaContext context;
    private static CudaKernels kernels;
    private final SplittableRandom random = new SplittableRandom(11);

    @BeforeAll
    static void openDevice() {
        context = CudaRuntime.get().open(0);
        context.setCheckEveryLaunch(true);
        kernels = new CudaKernels(context);
    }

    @AfterAll
    static void closeDevice() {
        if (context != null) context.close();
    }

    @ParameterizedTest(name = "W[{0}][{1}], group {2}, x scale {3}")
    @CsvSource({"2, 128, 128, 1", "7, 1000, 128, 3", "3, 4097, 128, 1", "3, 31, 128, 0.01", "64, 4096, 128, 1",
            "1023, 1024, 128, 2", "4, 11008, 128, 1", "9, 300, 64, 1", "2, 33, 32, 5", "14, 1000, 128, 1",
            "46, 4100, 128, 40", "8194, 256, 128, 1", "16386, 72, 32, 1"})
    void should_apply_the_rms_norm_and_the_swiglu_within_the_derived_bound(int rows, int cols, int groupSize, float xScale) {
        // given a 4-bit matrix, a residual stream x and a bf16 norm weight (both signs, 0.5 .. 1.5 in magnitude)
        short[] w = randomBf16(random, rows * cols, 0.7f);
        float[] wf = new float[w.length];
        for (int i = 0; i < w.length; i++) wf[i] = HalfFloats.bf16ToFloat(w[i]);
        Q4Matrix cpu = Q4Matrix.quantize(new ArrayMatrix(rows, cols, wf), groupSize);
        float[] x = randomFloats(random, cols, xScale);
        if (cols > 10) x[3] = 50 * xScale;  // an outlier
        short[] nw = new short[cols];
        for (int c = 0; c < cols; c++) {
            double m = 0.5 + random.nextDouble();
            nw[c] = HalfFloats.floatToBf16((float) (random.nextBoolean() ? m : -m));
        }
        float eps = 1e-5f;
        int ffn = rows / 2;
        try (DeviceBuffer dW = upload(context, "W", w);
             DeviceQ4Matrix gpu = DeviceQ4Matrix.quantize(context, "test", dW, rows, cols, groupSize);
             DeviceBuffer dX = upload(context, "x", x); DeviceBuffer dNw = upload(context, "norm weight", nw);
             DeviceBuffer out = poisoned(context, "out", rows * 4L); DeviceBuffer hidden = poisoned(context, "hidden", Math.max(1, ffn) * 4L);
             DeviceBuffer want = poisoned(context, "swiglu of out", Math.max(1, ffn) * 4L)) {
            // when
            gpu.gemvRmsNorm(dX, dNw, eps, out);
            float[] got = out.downloadFloats(rows);

            // then: with y_c = x_c * weight_c and inv = 1 / sqrt(mean(x^2) + eps) (exact), the kernel computes
            // (W . fl(y)) as the plain GEMV does on x (error <= 18 u_h S_y + 96 u B_y, PassKernelsGpuTest; plus
            // u M_y for rounding y), and multiplies the fp32 total by its fp32 inv: the sum of x^2 (per-thread
            // fmaf chains, a warp tree, 8 warp partials: relative error <= cols u), the division, + eps, rsqrtf
            // (2 ulp) and the final product add at most (cols / 2 + 6) u relative of |inv (W . y)| <= inv M_y.
            // Bound: inv (18 u_h S_y + 96 u B_y + (cols + 16) u M_y), M_y = sum_c |w4_c y_c|.
            double sumSq = 0;
            for (float v : x) sumSq += (double) v * v;
            double inv = 1 / Math.sqrt(sumSq / cols + eps);
            double maxAbsY = 0;
            double[] y = new double[cols];
            for (int c = 0; c < cols; c++) {
                y[c] = (double) x[c] * HalfFloats.bf16ToFloat(nw[c]);
                maxAbsY = Math.max(maxAbsY, Math.abs(y[c]));
            }
            double[] exact = new double[rows], bound = new double[rows];
            double worst = 0;
            for (int r = 0; r < rows; r++) {
                double dot = 0, s = 0, b = 0, m = 0;
                for (int c = 0; c < cols; c++) {
                    int g = c / groupSize;
                    double sc = cpu.scale(r, g), mn = cpu.min(r, g);
                    int code = cpu.code(r, c);
                    dot += (code * sc + mn) * y[c];
                    s += sc * code * (Math.abs(y[c]) + maxAbsY / 32768.0);
                    b += (16 * sc * (1 + code / 16.0) + Math.abs(mn - 16 * sc)) * Math.abs(y[c]);
                    m += Math.abs((code * sc + mn) * y[c]);
                }
                exact[r] = inv * dot;
                bound[r] = inv * (18 * UH * s + 96 * U * b + (cols + 16) * U * m) + 1e-30;
                worst = Math.max(worst, Math.abs(got[r] - exact[r]) / bound[r]);
                assertThat((double) got[r]).as("row %d vs exact", r).isCloseTo(exact[r], within(bound[r]));
            }
            System.out.printf(java.util.Locale.ROOT, "4-bit GEMV + RMSNorm [%d][%d] G %d: worst error %.3f of the bound%n",
                    rows, cols, groupSize, worst);

            if (rows % 2 != 0) {  // no [gate; up] pairs: refused before any launch
                assertThatThrownBy(() -> gpu.gemvRmsNormSwiglu(dX, dNw, eps, hidden))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
                return;
            }
            // and the SwiGLU entry gives the bits of the norm GEMV followed by qs_swiglu_rows ...
            gpu.gemvRmsNormSwiglu(dX, dNw, eps, hidden);
            kernels.swigluRows(out, want, 1, ffn);
            float[] h = hidden.downloadFloats(ffn);
            assertThat(bits(h)).as("fused SwiGLU vs norm GEMV + swigluRows").containsExactly(bits(want.downloadFloats(ffn)));
            // ... which is silu(g) u of the exact g, u within the bound carried through silu (|silu'| <= 1.1)
            for (int j = 0; j < ffn; j++) {
                double g = exact[j], u = exact[ffn + j], eg = bound[j], eu = bound[ffn + j];
                double sg = g / (1 + Math.exp(-g));
                double tol = 1.1 * Math.abs(u) * eg + 1.1 * Math.abs(sg) * eu + 1.1 * eg * eu + 8 * U * Math.abs(sg * u) + 1e-30;
                assertThat((double) h[j]).as("hidden %d vs exact", j).isCloseTo(sg * u, within(tol));
            }
        }
    }
    @ParameterizedTest(name = "q {0} heads, kv {1} heads of {2}, cols {3}, buffer row {4}")
    @CsvSource({"8, 2, 128, 1000, 3", "32, 32, 128, 4096, 0", "8, 4, 64, 512, 11", "8, 8, 128, 4096, 12", "4, 1, 64, 96, -1"})
    void should_rotate_and_append_with_the_bits_of_the_norm_gemv_and_the_rope_append(int heads, int kvHeads, int hd,
                                                                                    int cols, int bufRow) {
        // given a [q; k; v] 4-bit matrix (rows >= 8192 take the 4-rows-per-warp kernel), a residual stream, a norm
        // weight, inverse frequencies, and a pass header at position 70000 + bufRow, buffer row bufRow (12 and -1 lie
        // outside the 12-row buffer: nothing may be written there)
        int qDim = heads * hd, kvDim = kvHeads * hd, rows = qDim + 2 * kvDim;
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, hd, 128, 128, hd, 12);
        short[] w = randomBf16(random, rows * cols, 0.7f);
        float[] x = randomFloats(random, cols, 2f);
        short[] nw = randomBf16(random, cols, 1f);
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) invFreq[i] = (float) Math.pow(10000.0, -2.0 * i / hd);
        int[] header = {70000 + bufRow, 70000, bufRow, 0, 42};
        try (DeviceBuffer dW = upload(context, "W", w);
             DeviceQ4Matrix gpu = DeviceQ4Matrix.quantize(context, "qkv", dW, rows, cols, 128);
             DeviceBuffer dX = upload(context, "x", x); DeviceBuffer dNw = upload(context, "norm weight", nw);
             DeviceBuffer dFreq = upload(context, "invFreq", invFreq); DeviceBuffer dHeader = upload(context, "header", header);
             DeviceBuffer fusedRow = poisoned(context, "fused qkv", rows * 4L);
             DeviceBuffer twoStepRow = poisoned(context, "two-step qkv", rows * 4L);
             DeviceQuantizedKv fused = new DeviceQuantizedKv(context, layout);
             DeviceQuantizedKv twoStep = new DeviceQuantizedKv(context, layout)) {
            for (DeviceQuantizedKv kv : new DeviceQuantizedKv[] {fused, twoStep}) {
                kv.bufferKeys.fill((byte) 0x11);
                kv.bufferValues.fill((byte) 0x11);
            }
            // when
            gpu.gemvRmsNormRopeAppend(dX, dNw, 1e-5f, fusedRow, dFreq, fused, dHeader, heads);
            gpu.gemvRmsNorm(dX, dNw, 1e-5f, twoStepRow);
            kernels.ropeAppendRows(twoStepRow, rows, qDim + kvDim, dFreq, twoStep, dHeader, 1, heads);

            // then the row and both buffers are bitwise those of the two kernels
            assertThat(bits(fusedRow.downloadFloats(rows))).as("q | k | v row")
                    .containsExactly(bits(twoStepRow.downloadFloats(rows)));
            int halves = (int) (layout.bufferBytes() / 2);
            short[] keys = fused.bufferKeys.downloadShorts(halves);
            assertThat(keys).as("buffer keys").containsExactly(twoStep.bufferKeys.downloadShorts(halves));
            assertThat(fused.bufferValues.downloadShorts(halves)).as("buffer values")
                    .containsExactly(twoStep.bufferValues.downloadShorts(halves));
            // and the rotation happened (q differs from the plain GEMV's) and the buffer holds exactly one new row
            float[] plain = twoStepRow.downloadFloats(rows);
            gpu.gemvRmsNorm(dX, dNw, 1e-5f, twoStepRow);
            assertThat(bits(plain)).as("rotated q").isNotEqualTo(bits(twoStepRow.downloadFloats(rows)));
            int written = 0;
            for (short k : keys) if (k != (short) 0x1111) written++;
            assertThat(written).as("fp16 keys written").isEqualTo(bufRow >= 0 && bufRow < 12 ? kvDim : 0);
        }
    }
}
