package dev.quantspec.cuda;

import static dev.quantspec.cuda.GpuTestData.bits;
import static dev.quantspec.cuda.GpuTestData.poisoned;
import static dev.quantspec.cuda.GpuTestData.randomBf16;
import static dev.quantspec.cuda.GpuTestData.randomFloats;
import static dev.quantspec.cuda.GpuTestData.upload;
import static dev.quantspec.cuda.GpuTestData.within;

import dev.quantspec.ModelFormatException;
import dev.quantspec.quant.Q4Matrix;
import dev.quantspec.tensor.ArrayMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The kernels of the QuantSpec decoder's passes against their one-token versions and CPU references:
 * the multi-vector bf16 GEMV (bitwise equal to the single-vector kernels), the header-driven row
 * kernels (bitwise equal to the decode-step kernels row by row), and the 4-bit draft weights
 * (quantization bit-identical to {@link Q4Matrix}, GEMV within a derived fp32 bound). The quantized
 * attention in graph mode is tested in {@link QuantizedKvGpuTest}. Runs only on a GPU host.
 */
@Tag("gpu")
class PassKernelsGpuTest {
    private static final double U = 0x1p-24;  // fp32 unit roundoff
    private static CudaContext context;
    private static CudaKernels kernels;
    private final SplittableRandom random = new SplittableRandom(7);

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

    // ---------------------------------------------------------------- multi-vector GEMV

    @ParameterizedTest(name = "W[{0}][{1}] x {2} vectors")
    @CsvSource({"1, 8, 1", "7, 256, 9", "33, 1000, 5", "1023, 4104, 5", "517, 1001, 3", "4097, 4096, 2", "3, 11008, 9",
            "65, 2056, 7", "31, 200, 4", "9, 77, 6", "130, 512, 8", "9001, 264, 5"})
    void should_give_each_vector_the_bits_of_the_single_vector_gemv(int rows, int cols, int n) {
        // given bf16 weights and n vectors (cols 1001 and 77: the scalar path; 1000, 200, 4104: a partial unroll)
        short[] w = randomBf16(random, rows * cols, 0.5f);
        float[] x = randomFloats(random, n * cols, 1f);
        try (DeviceBuffer dW = upload(context, "W", w); DeviceBuffer dX = upload(context, "x", x);
             DeviceBuffer out = poisoned(context, "out", (long) n * rows * 4); DeviceBuffer one = poisoned(context, "one", rows * 4L)) {
            // when
            kernels.gemvBf16Rows(dW, dX, out, rows, cols, n);
            float[] got = out.downloadFloats(n * rows);

            // then row j is bitwise the n = 1 launch on x[j] (and, with the fp32 pass GEMVs, every single-vector
            // variant of the plain decoder) ...
            for (int j = 0; j < n; j++) {
                float[] xj = Arrays.copyOfRange(x, j * cols, (j + 1) * cols);
                int[] want = bits(Arrays.copyOfRange(got, j * rows, (j + 1) * rows));
                try (DeviceBuffer dXj = upload(context, "x" + j, xj)) {
                    one.fill((byte) 0xff);
                    kernels.gemvBf16Rows(dW, dXj, one, rows, cols, 1);
                    assertThat(bits(one.downloadFloats(rows))).as("vector %d vs n = 1", j).containsExactly(want);
                    for (CudaKernels.GemvVariant variant : CudaKernels.PASS_GEMV == CudaKernels.PassGemv.FP32
                            ? CudaKernels.GemvVariant.values() : new CudaKernels.GemvVariant[0]) {
                        one.fill((byte) 0xff);
                        kernels.gemvBf16(variant, dW, dXj, one, rows, cols);
                        assertThat(bits(one.downloadFloats(rows))).as("vector %d vs %s", j, variant).containsExactly(want);
                    }
                }
                // ... and close to the double reference (bound as in CudaKernelsGpuTest: 1e-5 of sum |w x|)
                for (int r = 0; r < rows; r++) {
                    double ref = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = (double) HalfFloats.bf16ToFloat(w[r * cols + c]) * xj[c];
                        ref += p;
                        mag += Math.abs(p);
                    }
                    assertThat((double) got[j * rows + r]).as("vector %d row %d", j, r).isCloseTo(ref, within(1e-5 * mag + 1e-30));
                }
            }
        }
    }

    @ParameterizedTest(name = "W[{0}][{1}] x {2} vectors, accumulated")
    @CsvSource({"4096, 4096, 1", "4096, 11008, 5", "33, 1000, 5", "517, 1001, 3", "7, 256, 9", "130, 512, 2"})
    void should_accumulate_into_the_residual_with_the_bits_of_gemv_then_add(int rows, int cols, int n) {
        // given bf16 weights, n vectors and a residual stream r of n rows
        short[] w = randomBf16(random, rows * cols, 0.5f);
        float[] x = randomFloats(random, n * cols, 1f);
        float[] r = randomFloats(random, n * rows, 4f);
        try (DeviceBuffer dW = upload(context, "W", w); DeviceBuffer dX = upload(context, "x", x); DeviceBuffer acc = upload(context, "r", r);
             DeviceBuffer sep = upload(context, "r copy", r); DeviceBuffer proj = poisoned(context, "proj", (long) n * rows * 4)) {
            // when the fused kernel adds W x into r, and separately the plain GEMV and qs_add_inplace do
            kernels.gemvBf16RowsAccumulate(dW, dX, acc, rows, cols, n);
            kernels.gemvBf16Rows(dW, dX, proj, rows, cols, n);
            kernels.addInPlace(sep, proj, n * rows);
            // then both give the same bits, and they differ from r (the add happened)
            float[] got = acc.downloadFloats(n * rows);
            assertThat(bits(got)).containsExactly(bits(sep.downloadFloats(n * rows)));
            assertThat(bits(got)).isNotEqualTo(bits(r));
        }
        // and the accumulating kernel refuses an output that overlaps its input
        try (DeviceBuffer dW = upload(context, "W", w); DeviceBuffer both = context.allocate("x and out", (long) n * (cols + rows) * 4)) {
            assertThatThrownBy(() -> kernels.gemvBf16RowsAccumulate(dW, both, both, rows, cols, n))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not overlap");
        }
    }

    // ---------------------------------------------------------------- row kernels of a pass

    @Test
    void should_gather_the_pass_tokens_embeddings_from_the_header() {
        int vocab = 1000, dim = 777;
        short[] table = randomBf16(random, vocab * dim, 1f);
        int[] header = {5000, 4096, 904, 0, 999, 0, 5, 1000, 17};
        int n = header.length - 4;
        try (DeviceBuffer dTable = upload(context, "table", table); DeviceBuffer dHeader = upload(context, "header", header);
             DeviceBuffer out = poisoned(context, "out", (long) n * dim * 4)) {
            kernels.embeddingRows(dTable, dHeader, out, n, dim, vocab);
            float[] got = out.downloadFloats(n * dim);
            // compared as raw bits: a token past the vocabulary gives the canonical NaN 0x7fc00000 (what
            // qs_prefill_embedding_bf16 writes, = Float.NaN's bits), and AssertJ compares primitive floats with
            // ==, which fails for NaN == NaN
            for (int i = 0; i < n; i++) {
                int token = header[4 + i];
                float[] want = new float[dim];
                for (int d = 0; d < dim; d++) {
                    want[d] = token < vocab ? HalfFloats.bf16ToFloat(table[token * dim + d]) : Float.NaN;
                }
                assertThat(bits(Arrays.copyOfRange(got, i * dim, (i + 1) * dim))).as("row %d (token %d)", i, token)
                        .containsExactly(bits(want));
            }
        }
    }

    @Test
    void should_rotate_each_pass_row_to_the_bits_of_the_decode_step_rope() {
        // given 5 fused QKV rows (q 8 heads, k 2 heads, v 2 heads, 4 floats of padding) at positions 12345..
        int heads = 8, kvHeads = 2, hd = 64, n = 5, qDim = heads * hd, kvDim = kvHeads * hd;
        int stride = qDim + 2 * kvDim + 4;
        float[] qkv = randomFloats(random, n * stride, 3f);
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) invFreq[i] = (float) Math.pow(500000.0, -2.0 * i / hd);
        int pos0 = 12345;
        try (DeviceBuffer dQkv = upload(context, "qkv", qkv); DeviceBuffer dFreq = upload(context, "invFreq", invFreq);
             DeviceBuffer dHeader = upload(context, "header", new int[] {pos0, 12288, 57, 0, 1, 2, 3, 4, 5});
             DeviceBuffer q1 = context.allocate("q", qDim * 4L); DeviceBuffer k1 = context.allocate("k", kvDim * 4L);
             DeviceBuffer position = context.allocate("position", 4)) {
            // when
            kernels.ropeRows(dQkv, stride, dFreq, dHeader, n, heads, kvHeads, hd);
            float[] got = dQkv.downloadFloats(n * stride);
            // then each row equals qs_rope at its position, and v and the padding are untouched
            for (int i = 0; i < n; i++) {
                q1.upload(Arrays.copyOfRange(qkv, i * stride, i * stride + qDim));
                k1.upload(Arrays.copyOfRange(qkv, i * stride + qDim, i * stride + qDim + kvDim));
                position.upload(new int[] {pos0 + i});
                kernels.rope(q1, k1, dFreq, position, heads, kvHeads, hd);
                assertThat(bits(Arrays.copyOfRange(got, i * stride, i * stride + qDim))).as("q of row %d", i)
                        .containsExactly(bits(q1.downloadFloats(qDim)));
                assertThat(bits(Arrays.copyOfRange(got, i * stride + qDim, i * stride + qDim + kvDim))).as("k of row %d", i)
                        .containsExactly(bits(k1.downloadFloats(kvDim)));
                assertThat(bits(Arrays.copyOfRange(got, i * stride + qDim + kvDim, (i + 1) * stride))).as("v of row %d", i)
                        .containsExactly(bits(Arrays.copyOfRange(qkv, i * stride + qDim + kvDim, (i + 1) * stride)));
            }
        }
    }

    @Test
    void should_append_the_pass_rows_to_the_buffer_at_the_header_row() {
        // given a buffer of 20 rows and a pass of 5 rows starting at buffer row 7
        int kvHeads = 2, hd = 64, n = 5, bufRow0 = 7, qDim = 4 * hd, kvDim = kvHeads * hd, stride = qDim + 2 * kvDim;
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, hd, 128, 64, 64, 20);
        float[] qkv = randomFloats(random, n * stride, 5f);
        qkv[qDim] = 1e6f;        // overflows fp16: inf, as __float2half_rn
        qkv[qDim + 1] = 3e-8f;   // an fp16 subnormal
        try (DeviceQuantizedKv kv = new DeviceQuantizedKv(context, layout); DeviceBuffer dQkv = upload(context, "qkv", qkv);
             DeviceBuffer dHeader = upload(context, "header", new int[] {bufRow0 + 640, 640, bufRow0, 0, 1, 2, 3, 4, 5})) {
            kv.bufferKeys.fill((byte) 0x11);
            kv.bufferValues.fill((byte) 0x11);
            // when
            kernels.bufferAppendRows(dQkv, stride, qDim, qDim + kvDim, kv, dHeader, n);
            // then
            short[] k = kv.bufferKeys.downloadShorts((int) (layout.bufferBytes() / 2));
            short[] v = kv.bufferValues.downloadShorts((int) (layout.bufferBytes() / 2));
            for (int h = 0; h < kvHeads; h++) {
                for (int row = 0; row < layout.bufferCapacity(); row++) {
                    for (int d = 0; d < hd; d++) {
                        int at = (h * layout.bufferCapacity() + row) * hd + d;
                        int i = row - bufRow0;
                        boolean written = i >= 0 && i < n;
                        short wantK = written ? HalfFloats.floatToHalf(qkv[i * stride + qDim + h * hd + d]) : (short) 0x1111;
                        short wantV = written ? HalfFloats.floatToHalf(qkv[i * stride + qDim + kvDim + h * hd + d]) : (short) 0x1111;
                        assertThat(k[at]).as("k head %d row %d dim %d", h, row, d).isEqualTo(wantK);
                        assertThat(v[at]).as("v head %d row %d dim %d", h, row, d).isEqualTo(wantV);
                    }
                }
            }
        }
    }

    @Test
    void should_rotate_and_append_in_one_launch_with_the_bits_of_the_two_kernels() {
        // given 5 fused QKV rows (q 8 heads, k 2 heads, v 2 heads, padding) at positions 70000.., buffer row 3..
        int heads = 8, kvHeads = 2, hd = 128, n = 5, qDim = heads * hd, kvDim = kvHeads * hd;
        int stride = qDim + 2 * kvDim + 4;
        QuantizedKvLayout layout = new QuantizedKvLayout(kvHeads, hd, 128, 128, 128, 12);
        float[] qkv = randomFloats(random, n * stride, 3f);
        float[] invFreq = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) invFreq[i] = (float) Math.pow(10000.0, -2.0 * i / hd);
        int[] header = {70003, 70000, 3, 0, 1, 2, 3, 4, 5};
        try (DeviceQuantizedKv fused = new DeviceQuantizedKv(context, layout);
             DeviceQuantizedKv twoStep = new DeviceQuantizedKv(context, layout);
             DeviceBuffer qkvFused = upload(context, "qkv", qkv); DeviceBuffer qkvTwoStep = upload(context, "qkv copy", qkv);
             DeviceBuffer dFreq = upload(context, "invFreq", invFreq); DeviceBuffer dHeader = upload(context, "header", header)) {
            for (DeviceQuantizedKv kv : new DeviceQuantizedKv[] {fused, twoStep}) {
                kv.bufferKeys.fill((byte) 0x11);
                kv.bufferValues.fill((byte) 0x11);
            }
            // when
            kernels.ropeAppendRows(qkvFused, stride, qDim + kvDim, dFreq, fused, dHeader, n, heads);
            kernels.ropeRows(qkvTwoStep, stride, dFreq, dHeader, n, heads, kvHeads, hd);
            kernels.bufferAppendRows(qkvTwoStep, stride, qDim, qDim + kvDim, twoStep, dHeader, n);
            // then the rotated rows and both buffers are bitwise equal
            assertThat(bits(qkvFused.downloadFloats(n * stride))).as("rows").containsExactly(bits(qkvTwoStep.downloadFloats(n * stride)));
            int halves = (int) (layout.bufferBytes() / 2);
            assertThat(fused.bufferKeys.downloadShorts(halves)).as("keys").containsExactly(twoStep.bufferKeys.downloadShorts(halves));
            assertThat(fused.bufferValues.downloadShorts(halves)).as("values").containsExactly(twoStep.bufferValues.downloadShorts(halves));
            // and only buffer rows 3..7 were written (row 3 of kv head 1 holds its rotated k; row 2 keeps the fill)
            short[] keys = fused.bufferKeys.downloadShorts(halves);
            float[] rows = qkvFused.downloadFloats(n * stride);
            int head1Row3 = (layout.bufferCapacity() + 3) * hd;
            assertThat(keys[head1Row3 + 5]).isEqualTo(HalfFloats.floatToHalf(rows[qDim + hd + 5]));
            assertThat(keys[head1Row3 - hd]).isEqualTo((short) 0x1111);
        }
    }

    @Test
    void should_apply_swiglu_per_row_with_the_bits_of_the_one_token_kernel() {
        int n = 3, ffn = 1000;
        float[] gateUp = randomFloats(random, n * 2 * ffn, 8f);
        try (DeviceBuffer dGateUp = upload(context, "gateUp", gateUp); DeviceBuffer hidden = poisoned(context, "hidden", (long) n * ffn * 4);
             DeviceBuffer gate = context.allocate("gate", ffn * 4L); DeviceBuffer up = context.allocate("up", ffn * 4L);
             DeviceBuffer one = context.allocate("one", ffn * 4L)) {
            kernels.swigluRows(dGateUp, hidden, n, ffn);
            float[] got = hidden.downloadFloats(n * ffn);
            for (int i = 0; i < n; i++) {
                gate.upload(Arrays.copyOfRange(gateUp, i * 2 * ffn, i * 2 * ffn + ffn));
                up.upload(Arrays.copyOfRange(gateUp, i * 2 * ffn + ffn, (i + 1) * 2 * ffn));
                kernels.swiglu(gate, up, one, ffn);
                assertThat(bits(Arrays.copyOfRange(got, i * ffn, (i + 1) * ffn))).as("row %d", i)
                        .containsExactly(bits(one.downloadFloats(ffn)));
            }
        }
    }

    @Test
    void should_pick_the_first_maximum_of_each_row_like_the_one_token_argmax() {
        // given rows with a late maximum, a tie (the lower index wins), NaNs, and only NaNs
        int n = 4, vocab = 70003;
        float[] logits = randomFloats(random, n * vocab, 1f);
        logits[70001] = 9f;
        logits[vocab + 1000] = 5f;
        logits[vocab + 50000] = 5f;
        logits[2 * vocab] = Float.NaN;
        logits[2 * vocab + 3] = 7f;
        for (int i = 3 * vocab; i < 4 * vocab; i++) logits[i] = Float.NaN;
        try (DeviceBuffer dLogits = upload(context, "logits", logits); DeviceBuffer ids = poisoned(context, "ids", n * 4L);
             DeviceBuffer row = context.allocate("row", vocab * 4L); DeviceBuffer one = context.allocate("one", 4)) {
            kernels.argmaxRows(dLogits, n, vocab, ids);
            int[] got = ids.downloadInts(n);
            assertThat(got).containsExactly(70001, 1000, 3, -1);
            for (int i = 0; i < n; i++) {
                row.upload(Arrays.copyOfRange(logits, i * vocab, (i + 1) * vocab));
                kernels.argmax(row, vocab, one);
                assertThat(got[i]).as("row %d", i).isEqualTo(one.downloadInts(1)[0]);
            }
        }
    }

    // ---------------------------------------------------------------- 4-bit draft weights

    @ParameterizedTest(name = "W[{0}][{1}], group {2}")
    @CsvSource({"5, 128, 128", "7, 1000, 128", "3, 4097, 128", "64, 4096, 128", "9, 300, 64", "2, 33, 32",
            "1023, 1024, 128", "4, 11008, 128", "3, 31, 128"})
    void should_quantize_to_the_cpu_q4_bits_and_multiply_within_the_fp32_bound(int rows, int cols, int groupSize) {
        // given bf16 weights with awkward groups: a constant group, signed zeros, exact half steps
        short[] w = randomBf16(random, rows * cols, 0.7f);
        for (int c = 0; c < Math.min(groupSize, cols); c++) w[c] = HalfFloats.floatToBf16(0.375f);
        if (rows > 1 && cols > 4) {
            w[cols] = HalfFloats.floatToBf16(0.0f);
            w[cols + 1] = HalfFloats.floatToBf16(-0.0f);
            w[cols + 2] = HalfFloats.floatToBf16(-1.0f);
            w[cols + 3] = HalfFloats.floatToBf16(14.0f);  // with -1: scale 1, codes on half steps below
            if (cols > 5) w[cols + 4] = HalfFloats.floatToBf16(0.5f);
        }
        float[] wf = new float[w.length];
        for (int i = 0; i < w.length; i++) wf[i] = HalfFloats.bf16ToFloat(w[i]);
        Q4Matrix cpu = Q4Matrix.quantize(new ArrayMatrix(rows, cols, wf), groupSize);
        float[] x = randomFloats(random, cols, 1f);

        try (DeviceBuffer dW = upload(context, "W", w);
             DeviceQ4Matrix gpu = DeviceQ4Matrix.quantize(context, "test", dW, rows, cols, groupSize);
             DeviceBuffer dX = upload(context, "x", x); DeviceBuffer out = poisoned(context, "out", rows * 4L)) {
            // then the codes and the params are the CPU's, bit for bit
            assertThat(gpu.downloadPackedCodes()).as("codes").isEqualTo(cpu.codes().bytes());
            assertThat(bits(gpu.downloadParams())).as("params").containsExactly(bits(cpu.groupParams()));

            // when
            gpu.gemv(dX, out);
            float[] got = out.downloadFloats(rows);
            float[] want = new float[rows];
            cpu.matMul(x, 0, cols, 1, want, 0, rows, 0, rows);

            // then: the kernel (q4gemv.cuh qs_q4_gemv_h2_body) scales each 32-value piece of x by a power of two
            // 2^k (max |x 2^k| in [64, 128)), rounds it to fp16, and sums the piece's code x products in two
            // 16-term HFMA2 chains; the chains' sum (fp32) times scale 2^-k plus min times the piece's fp32 sum
            // of x is chained per lane and shuffle-summed in fp32. With u_h = 2^-11: rounding x costs at most
            // u_h |x 2^k| per element (2^-25 below fp16's normal range, i.e. under 2^-20 max|x| unscaled),
            // a 16-term chain at most 16 u_h sum |n x 2^k| (plus 2^-25 per step when subnormal), so the fp16
            // part errs by at most ~17 u_h sum_c s_c n_c |x_c| plus the subnormal terms, both inside
            // 18 u_h S, S = sum_c s_c n_c (|x_c| + 2^-15 max|x|); the fp32 part (piece sums, scaling, the
            // per-lane chain of at most 11 pieces, the 5-step shuffle) stays inside the former fp32 bound
            // 96 u B, B = sum_c (16 s |f_c| + |min - 16 s|) |x_c| (u = 2^-24). Measured on an H200: at most
            // 1.3 u_h S (with outliers of 7e4 in x). Q4Matrix.matMul sums scale * dot(q, x) + min * sum(x)
            // per group in fp32: its error is at most ~(cols + 8) u sum_c (n_c s + |min|) |x_c|. This bound is
            // worst-case (18 u_h ~ 1/114 of sum_c s n |x|), so it no longer catches a single wrong code or a
            // wrong group at thousands of columns: the bitwise code and param checks above carry the layout;
            // it catches wrong dequantization, scaling or x staging (errors of order S).
            final double UH = 0x1p-11;  // fp16 unit roundoff
            double maxAbsX = 0;
            for (float v : x) maxAbsX = Math.max(maxAbsX, Math.abs(v));
            double worst = 0;
            for (int r = 0; r < rows; r++) {
                double ref = 0, bound = 0, mag = 0, half = 0;
                for (int c = 0; c < cols; c++) {
                    int g = c / groupSize;
                    double s = cpu.scale(r, g), mn = cpu.min(r, g);
                    int code = cpu.code(r, c);
                    ref += (code * s + mn) * x[c];
                    bound += (16 * s * (1 + code / 16.0) + Math.abs(mn - 16 * s)) * Math.abs(x[c]);
                    mag += (code * s + Math.abs(mn)) * Math.abs(x[c]);
                    half += s * code * (Math.abs(x[c]) + maxAbsX / 32768.0);
                }
                double gpuTol = 18 * UH * half + 96 * U * bound + 1e-30;
                double cpuTol = (cols + 8) * U * mag + 1e-30;
                worst = Math.max(worst, Math.abs(got[r] - ref) / gpuTol);
                assertThat((double) got[r]).as("row %d vs exact", r).isCloseTo(ref, within(gpuTol));
                assertThat((double) want[r]).as("row %d: Q4Matrix.matMul vs exact", r).isCloseTo(ref, within(cpuTol));
                assertThat((double) got[r]).as("row %d vs Q4Matrix.matMul", r).isCloseTo(want[r], within(gpuTol + cpuTol));
            }
            System.out.printf(java.util.Locale.ROOT, "4-bit GEMV [%d][%d] G %d: worst error %.3f of the bound%n", rows, cols,
                    groupSize, worst);
            // and the accumulating GEMV adds the same bits into a residual as the GEMV then qs_add_inplace
            float[] residual = randomFloats(random, rows, 4f);
            try (DeviceBuffer acc = upload(context, "residual", residual); DeviceBuffer sep = upload(context, "residual copy", residual)) {
                gpu.gemvAccumulate(dX, acc);
                kernels.addInPlace(sep, out, rows);
                assertThat(bits(acc.downloadFloats(rows))).as("accumulated").containsExactly(bits(sep.downloadFloats(rows)));
            }
        }
    }

    @Test
    void should_refuse_weights_holding_a_nan_like_the_cpu_quantizer() {
        short[] w = randomBf16(random, 4 * 256, 1f);
        w[300] = HalfFloats.floatToBf16(Float.NaN);
        try (DeviceBuffer dW = upload(context, "W", w)) {
            assertThatThrownBy(() -> DeviceQ4Matrix.quantize(context, "nan weights", dW, 4, 256, 128))
                    .isInstanceOf(ModelFormatException.class).hasMessageContaining("nan weights");
        }
    }
}
