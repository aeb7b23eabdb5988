package dev.quantspec.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The bf16 matrix kernels against a double-precision scalar reference, on awkward shapes. */
class Bf16MatrixTest {

    @ParameterizedTest(name = "{0}x{1}, {2} positions, {3} rows per chunk")
    @CsvSource({"1,1,1,1", "7,33,3,2", "16,64,4,16", "33,100,9,5", "130,257,6,64", "64,1024,13,7"})
    void should_match_a_scalar_reference_and_be_batch_invariant(int rows, int cols, int n, int rowsPerChunk) {
        // given: a matrix split into several buffers, like a >2 GB tensor
        SplittableRandom rnd = new SplittableRandom(rows * 31L + cols);
        short[] bits = new short[rows * cols];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) (Float.floatToIntBits((float) rnd.nextGaussian()) >>> 16);
        }
        int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        ByteBuffer[] buffers = new ByteBuffer[chunks];
        for (int c = 0; c < chunks; c++) {
            int first = c * rowsPerChunk;
            int count = Math.min(rowsPerChunk, rows - first);
            buffers[c] = ByteBuffer.allocateDirect(count * cols * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count * cols; i++) {
                buffers[c].putShort(i * 2, bits[first * cols + i]);
            }
        }
        Bf16Matrix m = new Bf16Matrix(rows, cols, buffers, rowsPerChunk);
        float[] x = new float[n * cols + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }

        // when: all positions at once, over two row ranges as two threads would split them
        float[] out = new float[n * rows];
        m.matMul(x, 3, cols, n, out, 0, rows, 0, rows / 2);
        m.matMul(x, 3, cols, n, out, 0, rows, rows / 2, rows);

        // then: close to the exact dot products...
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0, magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    double w = Float.intBitsToFloat(bits[r * cols + c] << 16);
                    exact += w * x[3 + t * cols + c];
                    magnitude += Math.abs(w * x[3 + t * cols + c]);
                }
                assertThat((double) out[t * rows + r]).isCloseTo(exact,
                        org.assertj.core.data.Offset.offset(1e-5 * magnitude + 1e-6));
            }
        }
        // ...and bit-identical to computing each position alone (batch invariance)
        for (int t = 0; t < n; t++) {
            float[] single = new float[rows];
            m.matMul(x, 3 + t * cols, cols, 1, single, 0, rows, 0, rows);
            for (int r = 0; r < rows; r++) {
                assertThat(Float.floatToIntBits(out[t * rows + r])).as("row %d position %d", r, t)
                        .isEqualTo(Float.floatToIntBits(single[r]));
            }
        }
        // and readRow returns the stored values
        float[] row = new float[cols];
        m.readRow(rows - 1, row, 0);
        assertThat(row[cols - 1]).isEqualTo(Float.intBitsToFloat(bits[rows * cols - 1] << 16));
    }

    @ParameterizedTest(name = "n = {0}")
    @CsvSource({"1", "15", "16", "17", "63", "1000"})
    void should_compute_simd_dot_products_like_the_scalar_reference(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] a = new float[n + 1];
        float[] b = new float[n + 2];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextGaussian();
        }
        double tol = 1e-5 * n;
        assertThat((double) SimdKernels.dot(a, 1, b, 2, n)).isCloseTo(ScalarKernels.dot(a, 1, b, 2, n),
                org.assertj.core.data.Offset.offset(tol));
        assertThat((double) SimdKernels.sumOfSquares(a, 1, n)).isCloseTo(ScalarKernels.sumOfSquares(a, 1, n),
                org.assertj.core.data.Offset.offset(tol));
        float[] y1 = b.clone();
        float[] y2 = b.clone();
        SimdKernels.axpy(0.5f, a, 1, y1, 2, n);
        ScalarKernels.axpy(0.5f, a, 1, y2, 2, n);
        assertThat(y1).containsExactly(y2);
    }
}
