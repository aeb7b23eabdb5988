package dev.quantspec.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import dev.quantspec.tensor.Simd;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The SIMD code-space attention loops against their scalar references, on random codes. */
class AttentionKernelsTest {

    @ParameterizedTest(name = "head {0}, {1} tokens, int8 {2}")
    @CsvSource({"64,1,true", "64,37,false", "64,37,true", "128,130,true", "128,5,false", "32,9,true"})
    void should_match_the_scalar_loops(int hd, int n, boolean int8) {
        assertThat(Simd.enabled()).as("the test JVM runs with the Vector API").isTrue();
        if (!SimdAttention.fits(hd)) {
            return; // narrower than one SIMD chunk on this CPU: the scalar loop is what runs
        }
        SplittableRandom rnd = new SplittableRandom(hd * 1000L + n);
        int rowBytes = hd / 2;
        byte[] upper = new byte[3 + n * rowBytes];
        byte[] lower = new byte[3 + n * rowBytes];
        rnd.nextBytes(upper);
        rnd.nextBytes(lower);
        float[] w = new float[5 + hd];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        byte[] lo = int8 ? lower : null;

        // scores
        float[] simd = new float[n + 2];
        float[] scalar = new float[n + 2];
        float m1 = SimdAttention.codeScores(upper, lo, 3, rowBytes, n, hd, w, 5, 5 + hd / 2, 0.25f, 0.125f, simd, 2, -1e30f);
        float m2 = AttentionKernels.scalarCodeScores(upper, lo, 3, rowBytes, n, hd, w, 5, 5 + hd / 2, 0.25f, 0.125f, scalar, 2, -1e30f);
        for (int t = 0; t < n; t++) {
            assertThat(simd[2 + t]).isCloseTo(scalar[2 + t], offset(1e-4f * (1 + Math.abs(scalar[2 + t]))));
        }
        assertThat(m1).isCloseTo(m2, offset(1e-4f * (1 + Math.abs(m2))));

        // weighted sums
        float[] coef = new float[2 * n + 1];
        for (int i = 0; i < coef.length; i++) {
            coef[i] = (float) rnd.nextDouble();
        }
        float[] outSimd = new float[1 + hd];
        float[] outScalar = new float[1 + hd];
        SimdAttention.codeWeightedSum(upper, lo, 3, rowBytes, n, hd, coef, 1, 2, outSimd, 1, 1 + hd / 2);
        AttentionKernels.scalarCodeWeightedSum(upper, lo, 3, rowBytes, n, hd, coef, 1, 2, outScalar, 1, 1 + hd / 2);
        for (int c = 0; c < outSimd.length; c++) {
            assertThat(outSimd[c]).isCloseTo(outScalar[c], offset(1e-3f * (1 + Math.abs(outScalar[c]))));
        }
    }
}
