package dev.quantspec.eval;

import dev.quantspec.QuantSpecEngine;
import dev.quantspec.cpu.CpuTransformer;
import dev.quantspec.cpu.ForwardState;
import dev.quantspec.cpu.WorkerPool;
import dev.quantspec.kv.FullPrecisionKvCache;
import dev.quantspec.kv.HierarchicalCacheConfig;
import dev.quantspec.kv.HierarchicalKvCache;
import dev.quantspec.kv.KvCache;
import dev.quantspec.kv.KvShape;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.LlamaConfig;
import dev.quantspec.model.LlamaWeights;
import java.util.Locale;

/**
 * Teacher-forced perplexity of a token sequence under one of QuantSpec's cache views, following
 * the protocol of reference/quantspec-oracle.json: the first 2G tokens as a prefill, then G tokens
 * per pass, so the hierarchical cache quantizes and flushes as it would while decoding.
 */
public final class Perplexity {
    /** Which model and cache reading to score with. */
    public enum Mode {
        /** Original weights, fp32 cache. */
        FP,
        /** Original weights, hierarchical cache read as INT8 (the target). */
        INT8,
        /** 4-bit draft weights, hierarchical cache read as INT4 (the draft). */
        INT4;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Summed negative log-likelihood (nats) over {@code count} predicted tokens. */
    public record Result(double nll, long count) {
        public double perplexity() {
            return Math.exp(nll / count);
        }

        public Result plus(Result o) {
            return new Result(nll + o.nll, count + o.count);
        }
    }

    private Perplexity() {}

    /** Scores tokens[1..n) given their prefixes. Runs on its own worker threads. */
    public static Result evaluate(QuantSpecEngine engine, int[] tokens, Mode mode) {
        LlamaConfig config = engine.config();
        HierarchicalCacheConfig cacheConfig = engine.options().cacheConfig(config.headDim());
        int g = cacheConfig.groupSize();
        int n = tokens.length;
        LlamaWeights weights = mode == Mode.INT4 ? engine.draftWeights() : engine.targetWeights();
        KvView view = mode == Mode.INT4 ? KvView.DRAFT : KvView.TARGET;
        try (WorkerPool pool = new WorkerPool(engine.options().threads())) {
            KvCache cache = mode == Mode.FP
                    ? new FullPrecisionKvCache(KvShape.of(config), n)
                    : new HierarchicalKvCache(KvShape.of(config), cacheConfig, n, g);
            int first = Math.min(2 * g, n);
            ForwardState state = new ForwardState(config, first, first, pool.threads(), cache.scratchSize());
            CpuTransformer model = new CpuTransformer(config, pool, engine.contextLength());
            double nll = 0;
            long count = 0;
            for (int pos = 0; pos < n - 1; ) {
                int len = Math.min(pos == 0 ? first : g, n - pos);
                cache.reserve(pos + len);
                model.forward(weights, tokens, pos, len, pos, cache, view, state, true);
                cache.accept(pos + len);
                for (int t = 0; t < len && pos + t + 1 < n; t++) {
                    nll += negativeLogLikelihood(state.logits, t * config.vocabSize(), config.vocabSize(), tokens[pos + t + 1]);
                    count++;
                }
                pos += len;
            }
            return new Result(nll, count);
        }
    }

    private static double negativeLogLikelihood(float[] logits, int off, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return Math.log(sum) + max - logits[off + target];
    }
}
