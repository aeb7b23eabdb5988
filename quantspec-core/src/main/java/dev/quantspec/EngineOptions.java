package dev.quantspec;

import dev.quantspec.kv.HierarchicalCacheConfig;
import dev.quantspec.kv.KvView;
import dev.quantspec.model.Projection;
import java.util.EnumSet;
import java.util.Set;

/**
 * How a model is loaded and what QuantSpec defaults its requests get.
 *
 * @param backend               where to run
 * @param threads               CPU threads for the forward pass
 * @param contextLength         context to allow, or 0 for the model's max_position_embeddings
 * @param prefillChunk          positions per prefill pass (bounds activation memory)
 * @param gamma                 default draft length per QuantSpec round
 * @param groupSize             G of the hierarchical cache (key group and half-buffer size)
 * @param valueGroupSize        channels per value group, or 0 for head_dim (one group per head and token, as
 *                              QUANTSPEC.md has it; the GPU's tensor-core attention needs that)
 * @param residualLength        R, a multiple of G, or 0 for R = G
 * @param draftProjections      which linear layers the draft holds in 4 bits
 * @param draftWeightGroupSize  4-bit weight group along the input dimension
 * @param draftKvView           how the draft reads the quantized cache: {@link KvView#DRAFT} (INT4, the
 *                              algorithm) or {@link KvView#TARGET} (INT8, for the "4-bit weights only" ablation)
 */
public record EngineOptions(Backend backend, int threads, int contextLength, int prefillChunk,
                            int gamma, int groupSize, int valueGroupSize, int residualLength,
                            Set<Projection> draftProjections, int draftWeightGroupSize, KvView draftKvView) {
    public EngineOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (contextLength < 0) {
            throw new IllegalArgumentException("context length must be >= 0 (0 = the model's), got " + contextLength);
        }
        if (prefillChunk < 1) {
            throw new IllegalArgumentException("prefill chunk must be >= 1, got " + prefillChunk);
        }
        if (gamma < 1 || gamma > 64) {
            throw new IllegalArgumentException("gamma must be in 1..64, got " + gamma);
        }
        if (groupSize < 1) {
            throw new IllegalArgumentException("group size must be >= 1, got " + groupSize);
        }
        if (draftWeightGroupSize < 1) {
            throw new IllegalArgumentException("draft weight group size must be >= 1, got " + draftWeightGroupSize);
        }
        draftProjections = Set.copyOf(draftProjections);
        java.util.Objects.requireNonNull(draftKvView, "draftKvView");
    }

    public static EngineOptions defaults() {
        return new EngineOptions(Backend.AUTO, Runtime.getRuntime().availableProcessors(), 0, 64,
                4, HierarchicalCacheConfig.DEFAULT_GROUP_SIZE, 0, 0, EnumSet.copyOf(Projection.MLP), 128, KvView.DRAFT);
    }

    public EngineOptions withBackend(Backend b) {
        return new EngineOptions(b, threads, contextLength, prefillChunk, gamma, groupSize, valueGroupSize,
                residualLength, draftProjections, draftWeightGroupSize, draftKvView);
    }

    public EngineOptions withThreads(int t) {
        return new EngineOptions(backend, t, contextLength, prefillChunk, gamma, groupSize, valueGroupSize,
                residualLength, draftProjections, draftWeightGroupSize, draftKvView);
    }

    public EngineOptions withContextLength(int c) {
        return new EngineOptions(backend, threads, c, prefillChunk, gamma, groupSize, valueGroupSize,
                residualLength, draftProjections, draftWeightGroupSize, draftKvView);
    }

    public EngineOptions withQuantSpec(int g, int group, Set<Projection> projections) {
        return new EngineOptions(backend, threads, contextLength, prefillChunk, g, group, valueGroupSize,
                residualLength, projections, draftWeightGroupSize, draftKvView);
    }

    public EngineOptions withCacheGroups(int valueGroup, int residual) {
        return new EngineOptions(backend, threads, contextLength, prefillChunk, gamma, groupSize, valueGroup,
                residual, draftProjections, draftWeightGroupSize, draftKvView);
    }

    public EngineOptions withDraftWeightGroupSize(int size) {
        return new EngineOptions(backend, threads, contextLength, prefillChunk, gamma, groupSize, valueGroupSize,
                residualLength, draftProjections, size, draftKvView);
    }

    /** For ablations: the draft reads the cache through {@code view}. */
    public EngineOptions withDraftKvView(KvView view) {
        return new EngineOptions(backend, threads, contextLength, prefillChunk, gamma, groupSize, valueGroupSize,
                residualLength, draftProjections, draftWeightGroupSize, view);
    }

    /** The cache configuration for a model with heads of {@code headDim}. */
    public HierarchicalCacheConfig cacheConfig(int headDim) {
        int vg = valueGroupSize > 0 ? valueGroupSize : headDim;
        int r = residualLength > 0 ? residualLength : groupSize;
        return new HierarchicalCacheConfig(groupSize, vg, r);
    }
}
