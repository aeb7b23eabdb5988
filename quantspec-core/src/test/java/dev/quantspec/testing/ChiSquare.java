package dev.quantspec.testing;

import java.util.ArrayList;
import java.util.List;

/** Pearson's chi-square goodness-of-fit test, for checking sampled distributions. */
public final class ChiSquare {
    private ChiSquare() {}

    /** The outcome of one test. */
    public record Result(double statistic, int degreesOfFreedom, double critical) {
        public boolean rejects() {
            return statistic > critical;
        }
    }

    /**
     * Tests observed counts against expected probabilities at significance {@code alpha} = 0.001.
     * Categories expected to hold fewer than 5 samples are pooled into one, as the test requires.
     */
    public static Result test(long[] observed, double[] expectedProbability) {
        long n = 0;
        for (long o : observed) {
            n += o;
        }
        List<double[]> cells = new ArrayList<>(); // {observed, expected}
        double pooledObserved = 0, pooledExpected = 0;
        for (int i = 0; i < observed.length; i++) {
            double e = expectedProbability[i] * n;
            if (e < 5) {
                pooledObserved += observed[i];
                pooledExpected += e;
            } else {
                cells.add(new double[] {observed[i], e});
            }
        }
        if (pooledExpected > 0 || pooledObserved > 0) {
            cells.add(new double[] {pooledObserved, Math.max(pooledExpected, 1e-9)});
        }
        double stat = 0;
        for (double[] c : cells) {
            stat += (c[0] - c[1]) * (c[0] - c[1]) / c[1];
        }
        int df = Math.max(1, cells.size() - 1);
        return new Result(stat, df, critical(df));
    }

    /** Upper 0.001 quantile of chi-square with df degrees of freedom (Wilson-Hilferty; z = 3.0902). */
    static double critical(int df) {
        double z = 3.0902;
        double a = 2.0 / (9.0 * df);
        return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
    }
}
