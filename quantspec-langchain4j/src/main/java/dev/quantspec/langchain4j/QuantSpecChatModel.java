package dev.quantspec.langchain4j;

import dev.langchain4j.exception.LangChain4jException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.quantspec.generate.FinishReason;
import dev.quantspec.generate.GenerationListener;
import dev.quantspec.generate.GenerationRequest;
import dev.quantspec.generate.GenerationResult;

/**
 * A LangChain4j {@link ChatModel} running a Llama-family model in-process on the QuantSpec engine.
 *
 * <pre>{@code
 * ChatModel model = QuantSpecChatModel.builder()
 *         .modelPath("models/qs-tiny")
 *         .decoder(DecoderKind.QUANTSPEC)
 *         .maxOutputTokens(256)
 *         .build();
 * }</pre>
 *
 * <p>The calling thread waits in the engine's queue, then decodes; interrupting it cancels the
 * request (the interrupt is checked once per token) and fails the call. See
 * {@link AbstractQuantSpecChatModel} for how concurrent calls are scheduled.
 */
public class QuantSpecChatModel extends AbstractQuantSpecChatModel implements ChatModel {

    protected QuantSpecChatModel(Builder builder) {
        super(builder);
    }

    @Override
    public ChatResponse doChat(ChatRequest chatRequest) {
        QuantSpecChatRequestParameters parameters = checkRequest(chatRequest);
        GenerationRequest request = plan(chatRequest, parameters);
        Thread caller = Thread.currentThread();
        GenerationResult result = engine().generate(request, GenerationListener.NONE, caller::isInterrupted);
        observe(result);
        if (result.finishReason() == FinishReason.CANCELLED) {
            throw new LangChain4jException("the QuantSpec request was interrupted after "
                    + result.stats().generatedTokens() + " generated tokens");
        }
        return ChatResponses.of(result, modelName());
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends AbstractQuantSpecChatModel.Builder<Builder> {
        public QuantSpecChatModel build() {
            return new QuantSpecChatModel(this);
        }
    }
}
