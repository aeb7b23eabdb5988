package dev.quantspec.quarkus.runtime;

import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.quarkus.runtime.BlockingOperationControl;
import io.quarkus.runtime.BlockingOperationNotAllowedException;
import java.util.List;
import java.util.Set;

/**
 * The blocking QuantSpec model as the application sees it. A generation holds its thread for
 * seconds; on a Vert.x event loop that would stall every other request of the server, so such a call
 * fails at once and says what to do instead (a worker thread, {@code @Blocking}, or the streaming model).
 */
final class OffEventLoopChatModel implements ChatModel {
    private final ChatModel delegate;

    OffEventLoopChatModel(ChatModel delegate) {
        this.delegate = delegate;
    }

    @Override
    public ChatResponse chat(ChatRequest chatRequest) {
        refuseOnEventLoop();
        return delegate.chat(chatRequest);
    }

    @Override
    public ChatResponse doChat(ChatRequest chatRequest) {
        refuseOnEventLoop();
        return delegate.doChat(chatRequest);
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return delegate.defaultRequestParameters();
    }

    @Override
    public List<ChatModelListener> listeners() {
        return delegate.listeners();
    }

    @Override
    public ModelProvider provider() {
        return delegate.provider();
    }

    @Override
    public Set<Capability> supportedCapabilities() {
        return delegate.supportedCapabilities();
    }

    private static void refuseOnEventLoop() {
        if (!BlockingOperationControl.isBlockingAllowed()) {
            throw new BlockingOperationNotAllowedException("The QuantSpec chat model blocks for the whole generation and "
                    + "was called on an event loop thread (" + Thread.currentThread().getName() + "): call the AI service "
                    + "from a worker thread (a blocking REST method, or @Blocking), or return Multi<String> to stream");
        }
    }

    @Override
    public String toString() {
        return "QuantSpec " + delegate;
    }
}
