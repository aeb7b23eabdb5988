package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.response.StreamingHandle;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cancels one streaming request. The engine reads {@link #isCancelled()} before every token, so
 * decoding stops within one token (one QuantSpec round) of {@link #cancel()}, and the request's KV
 * cache and activations, which only its generation holds, become garbage when it returns.
 */
final class RequestStreamingHandle implements StreamingHandle {
    private final AtomicBoolean cancelled = new AtomicBoolean();

    @Override
    public void cancel() {
        cancelled.set(true);
    }

    @Override
    public boolean isCancelled() {
        return cancelled.get();
    }
}
