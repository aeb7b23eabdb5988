package dev.quantspec.cuda;

import static dev.quantspec.cuda.GpuTestData.upload;

import dev.quantspec.generate.SamplingParams;
import dev.quantspec.generate.TokenDistribution;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link DeviceSpeculativeSampling}: the device distributions against the CPU's {@link TokenDistribution},
 * the device acceptance rule against a scalar transcription of speculative sampling on the same
 * distributions and uniform numbers, and the rule's defining property (the emitted token is distributed
 * as the target's p whatever the draft's q: chi-square, with a negative control that must fail). Seeds
 * are fixed. GPU hosts only.
 */
@Tag("gpu")
class DeviceSpeculativeSamplingGpuTest {
    private static CudaContext context;
    private static DeviceSpeculativeSampling sampling;
    private static DeviceSampler single;

    @BeforeAll
    static void openDevice() {
        context = CudaRuntime.get().open(0);
        sampling = new DeviceSpeculativeSampling(context);
        single = new DeviceSampler(context);
    }

    @AfterAll
    static void closeDevice() {
        if (single != null) single.close();
        if (context != null) context.close();
    }

    @ParameterizedTest(name = "vocab {0}, T {1}, topK {2}, topP {3}")
    @CsvSource({"8192, 1.0, 0, 1.0", "8192, 0.7, 50, 1.0", "8192, 0.8, 0, 0.9", "1000, 1.3, 100, 0.8",
            "32001, 0.9, 1000, 0.99", "128256, 0.8, 40, 0.95"})
    void should_write_the_cpu_distribution_and_draw_as_the_single_sampler(int vocab, float t, int topK, float topP) {
        // given three rows of random logits and a uniform number per row
        int rows = 3;
        float[] logits = DeviceSamplerGpuTest.normalLogits(rows * vocab, 3.0, 31L * vocab + topK);
        double[] u = {0.05, 0.5, 0.93};
        try (DeviceBuffer dLogits = upload(context, "logits", logits); DeviceBuffer dProbs = context.allocate("probs", rows * vocab * 4L);
             DeviceBuffer dU = context.allocate("u", rows * 8L); DeviceBuffer dTokens = context.allocate("tokens", rows * 4L);
             DeviceBuffer dStatus = context.allocate("status", 4)) {
            dU.upload(u);
            dStatus.fill((byte) 0);
            // when
            sampling.distributions(dLogits, rows, vocab, t, topK, topP, dProbs, dU, dTokens, dStatus);
            float[] probs = dProbs.downloadFloats(rows * vocab);
            int[] tokens = dTokens.downloadInts(rows);
            // then each row is the CPU's distribution up to float rounding, with the same kept ids
            for (int r = 0; r < rows; r++) {
                float[] cpu = new float[vocab];
                new TokenDistribution(vocab).probabilities(logits, r * vocab, new SamplingParams(t, topK, topP, 0L), cpu);
                for (int i = 0; i < vocab; i++) {
                    float gpu = probs[r * vocab + i];
                    assertThat(gpu == 0f).as("row %d id %d kept on one side only", r, i).isEqualTo(cpu[i] == 0f);
                    assertThat((double) gpu).as("row %d id %d", r, i).isCloseTo(cpu[i], org.assertj.core.data.Offset
                            .offset(1e-7 + 1e-5 * cpu[i]));
                }
                // and the draw is the single-row sampler's for the same u (one code path)
                try (DeviceBuffer row = dLogits.view("row " + r, (long) r * vocab * 4, vocab * 4L)) {
                    assertThat(tokens[r]).as("row %d draw", r).isEqualTo(single.sample(row, vocab, t, topK, topP, u[r]));
                }
            }
            assertThat(dStatus.downloadInts(1)[0]).isZero();
        }
    }

    @Test
    void should_flag_a_row_without_a_finite_maximum_and_draw_id_zero() {
        int vocab = 64;
        float[] logits = new float[vocab];
        Arrays.fill(logits, Float.NaN);
        try (DeviceBuffer dLogits = upload(context, "logits", logits); DeviceBuffer dProbs = context.allocate("probs", vocab * 4L);
             DeviceBuffer dU = context.allocate("u", 8); DeviceBuffer dTokens = context.allocate("tokens", 4);
             DeviceBuffer dStatus = context.allocate("status", 4)) {
            dU.upload(new double[] {0.5});
            dStatus.fill((byte) 0);
            dTokens.upload(new int[] {-7});
            sampling.distributions(dLogits, 1, vocab, 1f, 0, 1f, dProbs, dU, dTokens, dStatus);
            assertThat(dStatus.downloadInts(1)[0]).isEqualTo(1);
            assertThat(dTokens.downloadInts(1)[0]).isZero();
        }
    }

    @Test
    void should_accept_and_draw_as_the_scalar_rule() {
        // given rounds of g = 4 drafts over random peaked p and q (mostly rejected early), and every third round
        // with p = q at the drafted positions (every draft accepted: the bonus draw from p_g)
        int vocab = 3000, g = 4, rounds = 400;
        SplittableRandom rnd = new SplittableRandom(5);
        int sameLast = 0;
        int[] acceptedHistogram = new int[g + 1];
        try (DeviceBuffer dDrafts = context.allocate("drafts", g * 4L); DeviceBuffer dQ = context.allocate("q", (long) g * vocab * 4);
             DeviceBuffer dP = context.allocate("p", (long) (g + 1) * vocab * 4); DeviceBuffer dU = context.allocate("u", (g + 1) * 8L);
             DeviceBuffer dOut = context.allocate("outcome", 8)) {
            for (int n = 0; n < rounds; n++) {
                float[] q = distributions(g, vocab, rnd);
                float[] p = distributions(g + 1, vocab, rnd);
                if (n % 3 == 0) System.arraycopy(q, 0, p, 0, g * vocab);
                int[] drafts = new int[g];
                for (int i = 0; i < g; i++) drafts[i] = TokenDistribution.sample(q, i * vocab, vocab, rnd.nextDouble());
                double[] u = new double[g + 1];
                for (int i = 0; i <= g; i++) u[i] = rnd.nextDouble();
                dDrafts.upload(drafts);
                dQ.upload(q);
                dP.upload(p);
                dU.upload(u);
                // when
                sampling.verify(dDrafts, dQ, dP, g, vocab, dU, dOut);
                int[] got = dOut.downloadInts(2);
                // then the same number of drafts is accepted (the same float comparisons), and the same last token
                // but where float summation order moves a boundary
                int[] want = scalarRule(drafts, q, p, g, vocab, u);
                assertThat(got[0]).as("round %d accepted", n).isEqualTo(want[0]);
                acceptedHistogram[got[0]]++;
                if (got[1] == want[1]) sameLast++;
            }
        }
        assertThat(sameLast).as("rounds with the scalar rule's last token, of %d", rounds).isGreaterThanOrEqualTo(rounds - 2);
        assertThat(acceptedHistogram[0]).as("rounds rejecting the first draft").isPositive();
        assertThat(acceptedHistogram[g]).as("rounds accepting every draft").isPositive();
    }

    @Test
    void should_emit_tokens_distributed_as_the_target() {
        // given one draft (g = 1) from q and the target p at the same position, both fixed
        int vocab = 6, g = 1, samples = 60_000;
        float[] p = {0.30f, 0.25f, 0.20f, 0.15f, 0.10f, 0.00f};
        float[] q = {0.05f, 0.40f, 0.10f, 0.05f, 0.20f, 0.20f};
        float[] pp = new float[2 * vocab];
        System.arraycopy(p, 0, pp, 0, vocab);
        System.arraycopy(p, 0, pp, vocab, vocab);
        SplittableRandom rnd = new SplittableRandom(42);
        long[] first = new long[vocab];
        long[] draftsOnly = new long[vocab];
        try (DeviceBuffer dDrafts = context.allocate("drafts", 4); DeviceBuffer dQ = context.allocate("q", vocab * 4L);
             DeviceBuffer dP = context.allocate("p", 2L * vocab * 4); DeviceBuffer dU = context.allocate("u", 16);
             DeviceBuffer dOut = context.allocate("outcome", 8)) {
            dQ.upload(q);
            dP.upload(pp);
            for (int s = 0; s < samples; s++) {
                int draft = TokenDistribution.sample(q, vocab, rnd.nextDouble());
                dDrafts.upload(new int[] {draft});
                dU.upload(new double[] {rnd.nextDouble(), rnd.nextDouble()});
                // when
                sampling.verify(dDrafts, dQ, dP, g, vocab, dU, dOut);
                int[] out = dOut.downloadInts(2);
                first[out[0] == 1 ? draft : out[1]]++;
                draftsOnly[draft]++;
            }
        }
        // then the first emitted token follows p (z < 4.5), while the drafts alone do not (the test's power)
        assertThat(DeviceSamplerGpuTest.chiSquareZ(toInts(first), p, samples)).isLessThan(4.5);
        assertThat(DeviceSamplerGpuTest.chiSquareZ(toInts(draftsOnly), p, samples)).isGreaterThan(20.0);
    }

    /** Speculative sampling written out for one round (SpeculativeSampling's rule); returns {accepted, last}. */
    private static int[] scalarRule(int[] drafts, float[] q, float[] p, int g, int vocab, double[] u) {
        for (int i = 0; i < g; i++) {
            int x = drafts[i];
            float px = p[i * vocab + x], qx = q[i * vocab + x];
            if (qx > 0f && u[i] * qx < px) continue;
            float[] residual = new float[vocab];
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                float d = p[i * vocab + j] - q[i * vocab + j];
                residual[j] = d > 0f ? d : 0f;
                sum += residual[j];
            }
            if (sum <= 0) return new int[] {i, TokenDistribution.sample(p, i * vocab, vocab, u[g])};
            for (int j = 0; j < vocab; j++) residual[j] = (float) (residual[j] / sum);
            return new int[] {i, TokenDistribution.sample(residual, vocab, u[g])};
        }
        return new int[] {g, TokenDistribution.sample(p, g * vocab, vocab, u[g])};
    }

    /** {@code rows} random distributions over {@code vocab} ids: a few ids carry most of the mass. */
    private static float[] distributions(int rows, int vocab, SplittableRandom rnd) {
        float[] out = new float[rows * vocab];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            double[] w = new double[vocab];
            for (int i = 0; i < vocab; i++) {
                w[i] = Math.exp(rnd.nextGaussian() * 2.5);
                sum += w[i];
            }
            for (int i = 0; i < vocab; i++) out[r * vocab + i] = (float) (w[i] / sum);
        }
        return out;
    }

    private static int[] toInts(long[] counts) {
        int[] out = new int[counts.length];
        for (int i = 0; i < counts.length; i++) out[i] = (int) counts[i];
        return out;
    }
}
