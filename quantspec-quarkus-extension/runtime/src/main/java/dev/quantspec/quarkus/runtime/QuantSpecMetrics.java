package dev.quantspec.quarkus.runtime;

import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.quantspec.langchain4j.QuantSpecChatResponseMetadata;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Micrometer meters for one model configuration, fed by every finished answer of its blocking and
 * streaming models. Only loaded when the application has quarkus-micrometer.
 *
 * <ul>
 *   <li>{@code quantspec.decode.tokens.per.second}: decode speed of each answer (prefill excluded)</li>
 *   <li>{@code quantspec.acceptance.rate}: accepted / drafted tokens of each QuantSpec answer</li>
 *   <li>{@code quantspec.tokens.per.target.pass}: tokens produced per full-model forward pass</li>
 *   <li>{@code quantspec.generated.tokens}, {@code quantspec.prompt.tokens}, {@code quantspec.errors}: counters</li>
 * </ul>
 * All are tagged with {@code model} (the folder name) and {@code config} (the configuration name).
 */
final class QuantSpecMetrics implements ChatModelListener {
    private final DistributionSummary tokensPerSecond;
    private final DistributionSummary acceptanceRate;
    private final DistributionSummary tokensPerTargetPass;
    private final Counter generatedTokens;
    private final Counter promptTokens;
    private final Counter errors;

    QuantSpecMetrics(MeterRegistry registry, String modelName, String configName) {
        String[] tags = {"model", modelName, "config", configName};
        this.tokensPerSecond = DistributionSummary.builder("quantspec.decode.tokens.per.second")
                .description("Decode speed of each QuantSpec answer, prefill excluded").baseUnit("tokens/s")
                .tags(tags).register(registry);
        this.acceptanceRate = DistributionSummary.builder("quantspec.acceptance.rate")
                .description("Accepted / drafted tokens of each self-speculative answer").tags(tags).register(registry);
        this.tokensPerTargetPass = DistributionSummary.builder("quantspec.tokens.per.target.pass")
                .description("Tokens generated per full-model forward pass").tags(tags).register(registry);
        this.generatedTokens = Counter.builder("quantspec.generated.tokens").baseUnit("tokens").tags(tags).register(registry);
        this.promptTokens = Counter.builder("quantspec.prompt.tokens").baseUnit("tokens").tags(tags).register(registry);
        this.errors = Counter.builder("quantspec.errors").description("Failed chat requests").tags(tags).register(registry);
    }

    @Override
    public void onResponse(ChatModelResponseContext context) {
        ChatResponse response = context.chatResponse();
        if (response.tokenUsage() != null) {
            if (response.tokenUsage().outputTokenCount() != null) {
                generatedTokens.increment(response.tokenUsage().outputTokenCount());
            }
            if (response.tokenUsage().inputTokenCount() != null) {
                promptTokens.increment(response.tokenUsage().inputTokenCount());
            }
        }
        if (response.metadata() instanceof QuantSpecChatResponseMetadata m) {
            if (m.decodeStats().get("decode_tokens_per_s") instanceof Number speed) {
                tokensPerSecond.record(speed.doubleValue());
            }
            if (m.acceptanceRate() != null) {
                acceptanceRate.record(m.acceptanceRate());
            }
            if (m.tokensPerTargetPass() != null) {
                tokensPerTargetPass.record(m.tokensPerTargetPass());
            }
        }
    }

    @Override
    public void onError(ChatModelErrorContext context) {
        errors.increment();
    }
}
