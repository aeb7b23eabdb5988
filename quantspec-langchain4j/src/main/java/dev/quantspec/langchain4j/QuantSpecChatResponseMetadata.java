package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;
import dev.quantspec.generate.DecodeStats;
import java.util.Map;
import java.util.Objects;

/**
 * The common response metadata plus how the engine produced the answer: which decoder ran and, for
 * QuantSpec, how much of the draft the target accepted. These figures are what a user tunes γ and
 * the decoder with, so they travel with every response instead of only reaching a log.
 */
public class QuantSpecChatResponseMetadata extends ChatResponseMetadata {
    private final String decoder;
    private final Double acceptanceRate;
    private final Double tokensPerTargetPass;
    private final Map<String, Object> decodeStats;

    protected QuantSpecChatResponseMetadata(Builder builder) {
        super(builder);
        this.decoder = builder.decoder;
        this.acceptanceRate = builder.acceptanceRate;
        this.tokensPerTargetPass = builder.tokensPerTargetPass;
        this.decodeStats = builder.decodeStats == null ? Map.of() : Map.copyOf(builder.decodeStats);
    }

    /** "autoregressive/full", "autoregressive/hierarchical" or "quantspec". */
    public String decoder() {
        return decoder;
    }

    /** Accepted draft tokens / drafted tokens; {@code null} when nothing was drafted (autoregressive). */
    public Double acceptanceRate() {
        return acceptanceRate;
    }

    /**
     * Tokens generated per target forward pass after the prefill (1 for autoregressive decoding);
     * {@code null} when there was no pass after the prefill.
     */
    public Double tokensPerTargetPass() {
        return tokensPerTargetPass;
    }

    /** Every figure of the engine's statistics (the CLI's "stats" object; null values left out). */
    public Map<String, Object> decodeStats() {
        return decodeStats;
    }

    @Override
    public Builder toBuilder() {
        return (Builder) toBuilder(builder());
    }

    @Override
    protected ChatResponseMetadata.Builder<?> toBuilder(ChatResponseMetadata.Builder<?> builder) {
        return ((Builder) super.toBuilder(builder)).decoder(decoder).acceptanceRate(acceptanceRate)
                .tokensPerTargetPass(tokensPerTargetPass).decodeStats(decodeStats);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!super.equals(o)) { // also compares classes
            return false;
        }
        QuantSpecChatResponseMetadata that = (QuantSpecChatResponseMetadata) o;
        return Objects.equals(decoder, that.decoder) && Objects.equals(acceptanceRate, that.acceptanceRate)
                && Objects.equals(tokensPerTargetPass, that.tokensPerTargetPass)
                && Objects.equals(decodeStats, that.decodeStats);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), decoder, acceptanceRate, tokensPerTargetPass, decodeStats);
    }

    @Override
    public String toString() {
        return "QuantSpecChatResponseMetadata{id=" + id() + ", modelName=" + modelName() + ", tokenUsage="
                + tokenUsage() + ", finishReason=" + finishReason() + ", decoder=" + decoder
                + ", acceptanceRate=" + acceptanceRate + ", tokensPerTargetPass=" + tokensPerTargetPass + '}';
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends ChatResponseMetadata.Builder<Builder> {
        private String decoder;
        private Double acceptanceRate;
        private Double tokensPerTargetPass;
        private Map<String, Object> decodeStats;

        public Builder decoder(String decoder) {
            this.decoder = decoder;
            return this;
        }

        public Builder acceptanceRate(Double acceptanceRate) {
            this.acceptanceRate = acceptanceRate;
            return this;
        }

        public Builder tokensPerTargetPass(Double tokensPerTargetPass) {
            this.tokensPerTargetPass = tokensPerTargetPass;
            return this;
        }

        public Builder decodeStats(Map<String, Object> decodeStats) {
            this.decodeStats = decodeStats;
            return this;
        }

        /** Fills the decoder fields from the engine's statistics (NaN figures become null). */
        public Builder stats(DecodeStats stats) {
            Map<String, Object> map = new java.util.LinkedHashMap<>(stats.toMap());
            map.values().removeIf(Objects::isNull); // Map.copyOf rejects nulls; a null figure is "not measured"
            return decoder(stats.decoder()).acceptanceRate(finiteOrNull(stats.acceptanceRate()))
                    .tokensPerTargetPass(finiteOrNull(stats.tokensPerTargetPass())).decodeStats(map);
        }

        private static Double finiteOrNull(double v) {
            return Double.isFinite(v) ? v : null;
        }

        @Override
        public QuantSpecChatResponseMetadata build() {
            return new QuantSpecChatResponseMetadata(this);
        }
    }
}
