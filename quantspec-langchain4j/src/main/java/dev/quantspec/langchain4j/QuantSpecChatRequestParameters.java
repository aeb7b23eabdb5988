package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import dev.quantspec.generate.DecoderKind;
import dev.quantspec.generate.KvCacheKind;
import java.util.Objects;

/**
 * The common LangChain4j request parameters plus the engine's own: the sampling seed, the decoder
 * (autoregressive or QuantSpec), the target's KV cache for autoregressive decoding and the QuantSpec
 * draft length γ. Every engine-specific field is optional; {@code null} means "the model's default".
 *
 * <p>Pass an instance as a request's parameters, or as a model's default parameters; merging with
 * {@link #overrideWith} keeps the engine-specific fields, which a plain
 * {@link DefaultChatRequestParameters} would drop.
 */
public class QuantSpecChatRequestParameters extends DefaultChatRequestParameters {
    public static final QuantSpecChatRequestParameters EMPTY = builder().build();

    private final Long seed;
    private final DecoderKind decoder;
    private final KvCacheKind kvCache;
    private final Integer gamma;

    protected QuantSpecChatRequestParameters(Builder builder) {
        super(builder);
        this.seed = builder.seed;
        this.decoder = builder.decoder;
        this.kvCache = builder.kvCache;
        this.gamma = builder.gamma;
    }

    /** Seed of the sampler; unset means a fresh random seed per request. Ignored when greedy. */
    public Long seed() {
        return seed;
    }

    public DecoderKind decoder() {
        return decoder;
    }

    public KvCacheKind kvCache() {
        return kvCache;
    }

    /** Draft tokens per QuantSpec round; unset means the engine's default. */
    public Integer gamma() {
        return gamma;
    }

    @Override
    public QuantSpecChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public QuantSpecChatRequestParameters defaultedBy(ChatRequestParameters that) {
        return builder().overrideWith(that).overrideWith(this).build();
    }

    /** Views any parameters as ours: the common fields are kept, the engine-specific ones unset. */
    public static QuantSpecChatRequestParameters from(ChatRequestParameters parameters) {
        if (parameters instanceof QuantSpecChatRequestParameters q) {
            return q;
        }
        return parameters == null ? EMPTY : builder().overrideWith(parameters).build();
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!super.equals(o)) { // also compares classes
            return false;
        }
        QuantSpecChatRequestParameters that = (QuantSpecChatRequestParameters) o;
        return Objects.equals(seed, that.seed) && decoder == that.decoder && kvCache == that.kvCache
                && Objects.equals(gamma, that.gamma);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), seed, decoder, kvCache, gamma);
    }

    @Override
    public String toString() {
        return "QuantSpecChatRequestParameters{modelName=" + modelName() + ", temperature=" + temperature()
                + ", topP=" + topP() + ", topK=" + topK() + ", maxOutputTokens=" + maxOutputTokens()
                + ", stopSequences=" + stopSequences() + ", seed=" + seed + ", decoder=" + decoder
                + ", kvCache=" + kvCache + ", gamma=" + gamma
                + (toolSpecifications().isEmpty() ? "" : ", toolSpecifications=" + toolSpecifications())
                + (toolChoice() == null ? "" : ", toolChoice=" + toolChoice())
                + (responseFormat() == null ? "" : ", responseFormat=" + responseFormat())
                + (frequencyPenalty() == null ? "" : ", frequencyPenalty=" + frequencyPenalty())
                + (presencePenalty() == null ? "" : ", presencePenalty=" + presencePenalty()) + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Long seed;
        private DecoderKind decoder;
        private KvCacheKind kvCache;
        private Integer gamma;

        /** Takes every field that {@code parameters} sets, engine-specific ones included when it has them. */
        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            if (parameters == null) {
                return this;
            }
            super.overrideWith(parameters);
            if (parameters instanceof QuantSpecChatRequestParameters q) {
                seed(q.seed != null ? q.seed : seed);
                decoder(q.decoder != null ? q.decoder : decoder);
                kvCache(q.kvCache != null ? q.kvCache : kvCache);
                gamma(q.gamma != null ? q.gamma : gamma);
            }
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder decoder(DecoderKind decoder) {
            this.decoder = decoder;
            return this;
        }

        public Builder kvCache(KvCacheKind kvCache) {
            this.kvCache = kvCache;
            return this;
        }

        public Builder gamma(Integer gamma) {
            this.gamma = gamma;
            return this;
        }

        @Override
        public QuantSpecChatRequestParameters build() {
            return new QuantSpecChatRequestParameters(this);
        }
    }
}
