package dev.quantspec.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import dev.quantspec.generate.GenerationResult;
import java.util.UUID;

/** Builds the LangChain4j response for a finished generation. */
final class ChatResponses {
    private ChatResponses() {}

    static ChatResponse of(GenerationResult result, String modelName) {
        TokenUsage usage = new TokenUsage(result.stats().promptTokens(), result.stats().generatedTokens());
        QuantSpecChatResponseMetadata metadata = QuantSpecChatResponseMetadata.builder()
                .id("quantspec-" + UUID.randomUUID())
                .modelName(modelName)
                .tokenUsage(usage)
                .finishReason(finishReason(result.finishReason()))
                .stats(result.stats())
                .build();
        return ChatResponse.builder().aiMessage(AiMessage.from(result.text())).metadata(metadata).build();
    }

    static FinishReason finishReason(dev.quantspec.generate.FinishReason reason) {
        return switch (reason) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            // Callers never build a response for a cancelled request; OTHER keeps this total.
            case CANCELLED -> FinishReason.OTHER;
        };
    }
}
