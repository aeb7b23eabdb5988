package dev.quantspec.cuda;

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
 * Every decode kernel against a scalar Java reference (double precision) on fresh random inputs
 * with awkward sizes. Outputs are poisoned with NaN (0xFF bytes) before each launch, so an element
 * the kernel forgot to write fails the comparison. Runs only on a GPU host: scripts/gpu-run.sh.
 */
@Tag("gpu")
class CudaKernelsGpuTest {
    private static CudaContext context;
    private static CudaKernels kernels;
    private final SplittableRandom random = new SplittableRandom();

    @BeforeAll
    static void openDevice() {
        context = CudaRuntime.get().open(0);
        context.setCheckEveryLaunch(true);  // a fault names the kernel that caused it
        kernels = new CudaKernels(context);
    }

    @AfterAll
    static void closeDevice() {
        if (context != null) context.close();
    }

    // ---------------------------------------------------------------- GEMV

    @ParameterizedTest(name = "{2} W[{0}][{1}]")
    @CsvSource({
            "1, 8, ROWS_1", "7, 256, ROWS_2", "33, 1000, ROWS_4", "1023, 4104, ROWS_1", "1023, 4104, ROWS_2",
            "1023, 4104, ROWS_4", "4097, 4096, ROWS_1", "4097, 4096, ROWS_4", "65, 2056, ROWS_2",
            "517, 1001, ROWS_1", "517, 1001, ROWS_4", "3, 11008, ROWS_2"})
    void should_match_scalar_gemv_for_awkward_shapes(int rows, int cols, CudaKernels.GemvVariant variant) {
        // given random bf16 weights and an fp32 vector
        short[] w = randomBf16(rows * cols, 0.5f);
        float[] x = randomFloats(cols, 1.0f);
        try (DeviceBuffer dW = upload("W", w); DeviceBuffer dX = upload("x", x);
             DeviceBuffer dOut = poisoned("out", rows * 4L)) {
            // when
            kernels.gemvBf16(variant, dW, dX, dOut, rows, cols);
            float[] out = dOut.downloadFloats(rows);

            // then: fp32 accumulation in another order than the double reference; the error of a
            // sum of n products is bounded by about log2(n) + n/256 roundings of 2^-24 times
            // sum |w x| (each lane sums cols/256 products, then a 5-step shuffle tree), so 1e-5 of
            // sum |w x| is a safe bound that a wrong row or column (an O(1) error) cannot meet.
            for (int r = 0; r < rows; r++) {
                double ref = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) HalfFloats.bf16ToFloat(w[r * cols + c]) * x[c];
                    ref += p;
                    mag += Math.abs(p);
                }
                assertThat((double) out[r]).as("row %d of %d", r, rows).isCloseTo(ref, within(1e-5 * mag + 1e-30));
            }
        }
    }

    @ParameterizedTest(name = "{2} W[{0}][{1}]")
    @CsvSource({
            "1, 8, ROWS_1", "7, 256, ROWS_2", "33, 1000, ROWS_4", "1023, 4104, ROWS_1", "1023, 4104, ROWS_2",
            "1023, 4104, ROWS_4", "4097, 4096, ROWS_1", "4097, 4096, ROWS_4", "65, 2056, ROWS_2",
            "517, 1001, ROWS_1", "517, 1001, ROWS_2", "517, 1001, ROWS_4", "3, 11008, ROWS_2", "5, 13, ROWS_4",
            "8201, 1000, ", "4097, 14336, "})
    void should_accumulate_bitwise_as_gemv_then_residual_add(int rows, int cols, CudaKernels.GemvVariant variant) {
        // given random bf16 weights, an fp32 vector and a residual stream of similar magnitude as W . x
        short[] w = randomBf16(rows * cols, 0.5f);
        float[] x = randomFloats(cols, 1.0f);
        float[] residual = randomFloats(rows, 8.0f);
        try (DeviceBuffer dW = upload("W", w); DeviceBuffer dX = upload("x", x);
             DeviceBuffer expected = upload("residual (gemv then add)", residual);
             DeviceBuffer got = upload("residual (accumulate)", residual);
             DeviceBuffer proj = poisoned("proj", rows * 4L)) {
            // when: the two kernels the decode step used to run, and the fused one (null: the per-shape choice)
            if (variant == null) {
                kernels.gemvBf16(dW, dX, proj, rows, cols);
                kernels.addInPlace(expected, proj, rows);
                kernels.gemvBf16Accumulate(dW, dX, got, rows, cols);
            } else {
                kernels.gemvBf16(variant, dW, dX, proj, rows, cols);
                kernels.addInPlace(expected, proj, rows);
                kernels.gemvBf16Accumulate(variant, dW, dX, got, rows, cols);
            }
            float[] want = expected.downloadFloats(rows);
            float[] have = got.downloadFloats(rows);

            // then: the same bits in every row
            for (int r = 0; r < rows; r++) {
                assertThat(Float.floatToRawIntBits(have[r])).as("row %d of %d: %s vs %s", r, rows, have[r], want[r])
                        .isEqualTo(Float.floatToRawIntBits(want[r]));
            }
        }
    }

    @Test
    void should_refuse_to_accumulate_into_the_input_vector() {
        try (DeviceBuffer dW = context.allocate("W", 64L * 64 * 2); DeviceBuffer v = context.allocate("v", 64 * 4L)) {
            assertThatThrownBy(() -> kernels.gemvBf16Accumulate(dW, v, v, 64, 64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
        }
    }

    // ---------------------------------------------------------------- small kernels

    @Test
    void should_gather_the_embedding_row_exactly_and_write_nan_for_a_bad_token() {
        // given a table with an odd width
        int vocab = 1000, dim = 777;
        short[] table = randomBf16(vocab * dim, 1.0f);
        try (DeviceBuffer dTable = upload("table", table); DeviceBuffer token = upload("token", new int[] {999});
             DeviceBuffer out = poisoned("out", dim * 4L)) {
            // when
            kernels.embedding(dTable, token, out, dim, vocab);
            float[] row = out.downloadFloats(dim);
            // then bf16 -> fp32 is exact
            for (int d = 0; d < dim; d++) {
                assertThat(row[d]).isEqualTo(HalfFloats.bf16ToFloat(table[999 * dim + d]));
            }
            // and a token outside the vocabulary gives NaN, not a read out of bounds
            token.upload(new int[] {vocab});
            kernels.embedding(dTable, token, out, dim, vocab);
            assertThat(out.downloadFloats(dim)).containsOnly(Float.NaN);
        }
    }

    @ParameterizedTest(name = "rows {0} dim {1}")
    @CsvSource({"1, 4096", "3, 4097", "2, 777", "1, 1", "5, 64", "2, 8192", "1, 20000", "2, 12"})
    void should_match_scalar_rmsnorm(int rows, int dim) {
        // given
        float[] x = randomFloats(rows * dim, 3.0f);
        short[] weight = randomBf16(dim, 2.0f);
        float eps = 1e-5f;
        try (DeviceBuffer dX = upload("x", x); DeviceBuffer dW = upload("weight", weight);
             DeviceBuffer out = poisoned("out", rows * dim * 4L)) {
            // when
            kernels.rmsNorm(dX, dW, out, rows, dim, eps);
            float[] got = out.downloadFloats(rows * dim);
            // then: the mean square is an fp32 sum (relative error ~1e-6) and rsqrtf is within
            // 2 ulp, so each output is within a few 1e-6 of its magnitude; 1e-5 relative is safe.
            for (int r = 0; r < rows; r++) {
                double ss = 0;
                for (int d = 0; d < dim; d++) ss += (double) x[r * dim + d] * x[r * dim + d];
                double inv = 1.0 / Math.sqrt(ss / dim + eps);
                for (int d = 0; d < dim; d++) {
                    double ref = x[r * dim + d] * inv * HalfFloats.bf16ToFloat(weight[d]);
                    assertThat((double) got[r * dim + d]).isCloseTo(ref, within(1e-5 * Math.abs(ref) + 1e-7));
                }
            }
        }
    }

    @ParameterizedTest(name = "heads {0}/{1} dim {2} position {3} theta {4}")
    @CsvSource({"32, 8, 128, 0, 500000", "32, 8, 128, 1, 500000", "4, 2, 64, 4097, 10000", "32, 32, 128, 131071, 10000",
            "8, 1, 64, 1000, 10000"})
    void should_match_scalar_rope_with_rotate_half_pairs(int nHeads, int nKvHeads, int headDim, int position, double theta) {
        // given
        float[] q = randomFloats(nHeads * headDim, 2.0f);
        float[] k = randomFloats(nKvHeads * headDim, 2.0f);
        int half = headDim / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(theta, 2.0 * i / headDim));
        try (DeviceBuffer dQ = upload("q", q); DeviceBuffer dK = upload("k", k);
             DeviceBuffer dInv = upload("invFreq", invFreq); DeviceBuffer pos = upload("position", new int[] {position})) {
            // when
            kernels.rope(dQ, dK, dInv, pos, nHeads, nKvHeads, headDim);
            float[] gotQ = dQ.downloadFloats(q.length);
            float[] gotK = dK.downloadFloats(k.length);
            // then: the angle is the same fp32 product on both sides; sincosf is within 2 ulp of
            // the exact sine and cosine of it, so each output is within ~1e-6 of |x1| + |x2|.
            checkRope(q, gotQ, nHeads, headDim, position, invFreq);
            checkRope(k, gotK, nKvHeads, headDim, position, invFreq);
        }
    }

    private static void checkRope(float[] in, float[] got, int heads, int headDim, int position, float[] invFreq) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = (float) position * invFreq[i];  // fp32 product, as the kernel
                double c = Math.cos(angle), s = Math.sin(angle);
                double x1 = in[h * headDim + i], x2 = in[h * headDim + i + half];
                double tol = 2e-6 * (Math.abs(x1) + Math.abs(x2)) + 1e-7;
                assertThat((double) got[h * headDim + i]).as("head %d dim %d", h, i).isCloseTo(x1 * c - x2 * s, within(tol));
                assertThat((double) got[h * headDim + i + half]).as("head %d dim %d", h, i + half)
                        .isCloseTo(x2 * c + x1 * s, within(tol));
            }
        }
    }

    @Test
    void should_match_scalar_swiglu_and_residual_add() {
        // given an ffn width that is not a multiple of the block
        int n = 11008 + 3;
        float[] gate = randomFloats(n, 8.0f);
        float[] up = randomFloats(n, 2.0f);
        float[] x = randomFloats(n, 1.0f);
        try (DeviceBuffer dGate = upload("gate", gate); DeviceBuffer dUp = upload("up", up);
             DeviceBuffer dX = upload("x", x); DeviceBuffer out = poisoned("out", n * 4L)) {
            // when
            kernels.swiglu(dGate, dUp, out, n);
            kernels.addInPlace(dX, dUp, n);
            float[] got = out.downloadFloats(n);
            float[] sum = dX.downloadFloats(n);
            // then: expf is within 2 ulp and the rest is 3 roundings: 1e-6 relative is safe
            for (int i = 0; i < n; i++) {
                double g = gate[i];
                double ref = g / (1 + Math.exp(-g)) * up[i];
                assertThat((double) got[i]).isCloseTo(ref, within(1e-6 * Math.abs(ref) + 1e-12));
                assertThat(sum[i]).isEqualTo(x[i] + up[i]);  // one fp32 addition: exact match
            }
        }
    }

    @Test
    void should_append_fp16_keys_and_values_at_the_position_and_nowhere_else() {
        // given a cache already holding other rows
        int nKvHeads = 8, headDim = 128, maxSeq = 37, position = 36;
        float[] k = randomFloats(nKvHeads * headDim, 4.0f);
        float[] v = randomFloats(nKvHeads * headDim, 4.0f);
        short[] before = new short[nKvHeads * maxSeq * headDim];
        for (int i = 0; i < before.length; i++) before[i] = HalfFloats.floatToHalf((float) random.nextDouble());
        try (DeviceBuffer dK = upload("k", k); DeviceBuffer dV = upload("v", v);
             DeviceBuffer kCache = upload("kCache", before); DeviceBuffer vCache = upload("vCache", before);
             DeviceBuffer pos = upload("position", new int[] {position})) {
            // when
            kernels.kvAppend(dK, dV, kCache, vCache, pos, nKvHeads, headDim, maxSeq);
            short[] gotK = kCache.downloadShorts(before.length);
            short[] gotV = vCache.downloadShorts(before.length);
            // then the row holds the round-to-nearest fp16 values and every other row is unchanged
            for (int h = 0; h < nKvHeads; h++) {
                for (int p = 0; p < maxSeq; p++) {
                    for (int d = 0; d < headDim; d++) {
                        int idx = (h * maxSeq + p) * headDim + d;
                        short wantK = p == position ? HalfFloats.floatToHalf(k[h * headDim + d]) : before[idx];
                        short wantV = p == position ? HalfFloats.floatToHalf(v[h * headDim + d]) : before[idx];
                        assertThat(gotK[idx]).as("k head %d pos %d dim %d", h, p, d).isEqualTo(wantK);
                        assertThat(gotV[idx]).as("v head %d pos %d dim %d", h, p, d).isEqualTo(wantV);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "heads {0}/{1} x {2}, position {3} of {4}")
    @CsvSource({"32, 8, 128, 36, 37", "4, 1, 128, 131071, 131072", "4, 4, 64, 0, 5", "6, 2, 18, 7, 9",
            "3, 1, 200, 4, 5", "2, 1, 64, 5, 5"})
    void should_rope_and_append_bitwise_as_the_two_kernels(int nHeads, int nKvHeads, int headDim, int position,
                                                           int maxSeq) {
        // given q, k, v, a cache already holding other rows, and Llama-3 inverse frequencies
        float[] q = randomFloats(nHeads * headDim, 2.0f);
        float[] k = randomFloats(nKvHeads * headDim, 2.0f);
        float[] v = randomFloats(nKvHeads * headDim, 2.0f);
        int half = headDim / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(500000.0, 2.0 * i / headDim));
        short[] before = randomBf16(nKvHeads * maxSeq * headDim, 1.0f);  // any 16-bit patterns
        try (DeviceBuffer dInv = upload("invFreq", invFreq); DeviceBuffer pos = upload("position", new int[] {position});
             DeviceBuffer q1 = upload("q (pair)", q); DeviceBuffer k1 = upload("k (pair)", k);
             DeviceBuffer v1 = upload("v (pair)", v); DeviceBuffer kc1 = upload("kCache (pair)", before);
             DeviceBuffer vc1 = upload("vCache (pair)", before);
             DeviceBuffer q2 = upload("q (fused)", q); DeviceBuffer k2 = upload("k (fused)", k);
             DeviceBuffer v2 = upload("v (fused)", v); DeviceBuffer kc2 = upload("kCache (fused)", before);
             DeviceBuffer vc2 = upload("vCache (fused)", before)) {
            // when (a position past the cache, as in the last row: rotated, nothing appended, by both)
            kernels.rope(q1, k1, dInv, pos, nHeads, nKvHeads, headDim);
            kernels.kvAppend(k1, v1, kc1, vc1, pos, nKvHeads, headDim, maxSeq);
            kernels.ropeKvAppend(q2, k2, v2, dInv, pos, kc2, vc2, nHeads, nKvHeads, headDim, maxSeq);

            // then q, k and both caches hold the same bits
            assertThat(bits(q2.downloadFloats(q.length))).isEqualTo(bits(q1.downloadFloats(q.length)));
            assertThat(bits(k2.downloadFloats(k.length))).isEqualTo(bits(k1.downloadFloats(k.length)));
            assertThat(v2.downloadFloats(v.length)).isEqualTo(v);
            assertThat(kc2.downloadShorts(before.length)).isEqualTo(kc1.downloadShorts(before.length));
            assertThat(vc2.downloadShorts(before.length)).isEqualTo(vc1.downloadShorts(before.length));
            if (position < maxSeq) {
                assertThat(kc2.downloadShorts(before.length)).isNotEqualTo(before);
            }
        }
    }

    private static int[] bits(float[] values) {
        int[] b = new int[values.length];
        for (int i = 0; i < values.length; i++) b[i] = Float.floatToRawIntBits(values[i]);
        return b;
    }

    @Test
    void should_return_the_first_maximum_and_ignore_nans() {
        // given a vocabulary-sized vector with the maximum planted twice and NaNs sprinkled in
        int n = 128256;
        float[] x = randomFloats(n, 10.0f);
        x[70001] = 50f;
        x[90000] = 50f;
        x[3] = Float.NaN;
        x[n - 1] = Float.NaN;
        try (DeviceBuffer dX = upload("logits", x); DeviceBuffer out = upload("argmax", new int[] {-7})) {
            // when
            kernels.argmax(dX, n, out);
            // then
            assertThat(out.downloadInts(1)[0]).isEqualTo(70001);
            // and a one-element vector, and an odd length with the maximum last
            kernels.argmax(dX, 1, out);
            assertThat(out.downloadInts(1)[0]).isEqualTo(0);
            float[] y = randomFloats(1001, 1.0f);
            y[1000] = 2f;
            try (DeviceBuffer dY = upload("y", y)) {
                kernels.argmax(dY, 1001, out);
                assertThat(out.downloadInts(1)[0]).isEqualTo(1000);
            }
        }
    }

    // ---------------------------------------------------------------- decode attention

    @ParameterizedTest(name = "{0} q heads / {1} kv heads, dim {2}, context {3}, waves {4}, unroll {5}, min chunk {6}")
    @CsvSource({
            "32, 8, 128, 1, 1, 4, 64", "32, 8, 128, 7, 1, 4, 64", "32, 8, 128, 1000, 1, 4, 64", "32, 8, 128, 4097, 1, 4, 64",
            "32, 8, 128, 4097, 2, 4, 64", "32, 32, 128, 1000, 1, 4, 64", "32, 32, 128, 4097, 1, 4, 64",
            "16, 2, 64, 4097, 1, 4, 64", "16, 2, 64, 7, 1, 4, 64", "4, 2, 64, 1000, 1, 4, 64", "8, 1, 128, 1000, 2, 4, 64",
            "8, 1, 128, 20000, 1, 4, 64", "32, 4, 128, 1, 2, 4, 64",
            "32, 8, 128, 7, 1, 8, 64", "32, 8, 128, 4097, 1, 8, 64", "32, 8, 128, 4097, 2, 8, 512",
            "32, 32, 128, 1000, 1, 8, 64", "32, 32, 128, 4097, 1, 8, 512", "32, 32, 128, 1, 1, 8, 512"})
    void should_match_scalar_attention_over_the_fp16_cache(int nHeads, int nKvHeads, int headDim, int seqLen, int waves,
                                                           int unroll, int minChunkLen) {
        // given a cache with more rows than the context, the rows past it holding huge values that
        // would dominate the result if the kernel read them
        int maxSeq = seqLen + 5;
        int group = nHeads / nKvHeads;
        float[] q = randomFloats(nHeads * headDim, 1.0f);
        short[] k = new short[nKvHeads * maxSeq * headDim];
        short[] v = new short[k.length];
        for (int h = 0; h < nKvHeads; h++) {
            for (int p = 0; p < maxSeq; p++) {
                for (int d = 0; d < headDim; d++) {
                    int idx = (h * maxSeq + p) * headDim + d;
                    boolean outside = p >= seqLen;
                    k[idx] = HalfFloats.floatToHalf(outside ? 60000f : (float) (random.nextDouble() * 4 - 2));
                    v[idx] = HalfFloats.floatToHalf(outside ? 60000f : (float) (random.nextDouble() * 4 - 2));
                }
            }
        }
        try (DecodeAttention attention = new DecodeAttention(context, nHeads, nKvHeads, headDim,
                new DecodeAttention.Tuning(waves, unroll, minChunkLen));
             DeviceBuffer dQ = upload("q", q); DeviceBuffer dK = upload("kCache", k); DeviceBuffer dV = upload("vCache", v);
             DeviceBuffer out = poisoned("out", nHeads * headDim * 4L);
             DeviceBuffer graphOut = poisoned("out (length on the device)", nHeads * headDim * 4L);
             DeviceBuffer lastPosition = upload("last position", new int[] {seqLen - 1})) {
            // when run with the length from the host, and with the length read on the device (graph mode)
            attention.run(dQ, dK, dV, out, seqLen, maxSeq);
            attention.runAtDevicePosition(dQ, dK, dV, graphOut, lastPosition, maxSeq);
            float[] got = out.downloadFloats(nHeads * headDim);

            // then both make the same split, so the same bits
            assertThat(graphOut.downloadFloats(nHeads * headDim)).as("device-length attention").containsExactly(got);

            // then: scores are fp32 dot products of 128 terms (relative error ~1e-6, |score| < 4
            // here), exp2f is within 2 ulp and the weighted sums are fp32: the output, a convex
            // combination of values in [-2, 2], is within a few 1e-6 of the reference. 2e-5 is safe;
            // a masking, chunking or merge error moves outputs by 0.01 or more.
            double scale = 1.0 / Math.sqrt(headDim);
            for (int head = 0; head < nHeads; head++) {
                int kvHead = head / group;
                double[] scores = new double[seqLen];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < seqLen; p++) {
                    double s = 0;
                    for (int d = 0; d < headDim; d++) {
                        s += (double) q[head * headDim + d] * HalfFloats.halfToFloat(k[(kvHead * maxSeq + p) * headDim + d]);
                    }
                    scores[p] = s * scale;
                    max = Math.max(max, scores[p]);
                }
                double denom = 0;
                for (int p = 0; p < seqLen; p++) denom += Math.exp(scores[p] - max);
                for (int d = 0; d < headDim; d++) {
                    double ref = 0;
                    for (int p = 0; p < seqLen; p++) {
                        ref += Math.exp(scores[p] - max) * HalfFloats.halfToFloat(v[(kvHead * maxSeq + p) * headDim + d]);
                    }
                    ref /= denom;
                    assertThat((double) got[head * headDim + d]).as("head %d dim %d", head, d).isCloseTo(ref, within(2e-5));
                }
            }
        }
    }

    @Test
    void should_split_long_contexts_into_several_chunks_and_short_ones_into_one() {
        // given the Llama-3.1-8B layer shape
        try (DecodeAttention attention = new DecodeAttention(context, 32, 8, 128)) {
            // when / then
            assertThat(attention.split(7).numChunks()).isEqualTo(1);
            DecodeAttention.Split longSplit = attention.split(131072);
            assertThat(longSplit.numChunks() * 8).isGreaterThanOrEqualTo(context.multiprocessorCount());
            assertThat((long) longSplit.numChunks() * longSplit.chunkLen()).isGreaterThanOrEqualTo(131072);
            assertThat(longSplit.chunkLen() % DecodeAttention.CHUNK_GRANULE).isZero();
        }
    }

    // ---------------------------------------------------------------- runtime

    @Test
    void should_name_what_did_not_fit_when_device_memory_runs_out() {
        // given a request far beyond any GPU (1 PiB)
        // when / then
        assertThatThrownBy(() -> context.allocate("the KV cache of layer 0", 1L << 50))
                .isInstanceOf(DeviceOutOfMemoryException.class)
                .hasMessageContaining("the KV cache of layer 0")
                .hasMessageContaining(Long.toString(1L << 50) + " bytes");
    }

    @Test
    void should_replay_captured_kernels_from_a_graph() {
        // given two kernels captured once, reading their changing input from device memory
        context.setCheckEveryLaunch(false);
        int n = 5000;
        try (DeviceBuffer x = upload("x", randomFloats(n, 1.0f)); DeviceBuffer one = upload("ones", filled(n, 1.0f));
             DeviceBuffer out = upload("argmax", new int[] {-1})) {
            try (CudaContext.Graph graph = context.captureGraph(() -> {
                kernels.addInPlace(x, one, n);
                kernels.argmax(x, n, out);
            })) {
                // when replayed with a new maximum planted in x
                float[] values = randomFloats(n, 1.0f);
                values[4321] = 3f;
                x.upload(values);
                graph.launch();
                context.synchronize();
                // then both kernels ran on the new data
                assertThat(out.downloadInts(1)[0]).isEqualTo(4321);
                assertThat(x.downloadFloats(n)[4321]).isEqualTo(4f);
            }
        } finally {
            context.setCheckEveryLaunch(true);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static org.assertj.core.data.Offset<Double> within(double tolerance) {
        return org.assertj.core.data.Offset.offset(tolerance);
    }

    private float[] randomFloats(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1) * scale;
        return v;
    }

    private static float[] filled(int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    private short[] randomBf16(int n, float scale) {
        short[] v = new short[n];
        for (int i = 0; i < n; i++) v[i] = HalfFloats.floatToBf16((float) (random.nextDouble() * 2 - 1) * scale);
        return v;
    }

    private static DeviceBuffer upload(String name, float[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 4L);
        b.upload(values);
        return b;
    }

    private static DeviceBuffer upload(String name, short[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 2L);
        b.upload(values);
        return b;
    }

    private static DeviceBuffer upload(String name, int[] values) {
        DeviceBuffer b = context.allocate(name, values.length * 4L);
        b.upload(values);
        return b;
    }

    private static DeviceBuffer poisoned(String name, long bytes) {
        DeviceBuffer b = context.allocate(name, bytes);
        b.fill((byte) 0xff);  // NaN in fp32: an unwritten element fails every comparison
        return b;
    }
}
