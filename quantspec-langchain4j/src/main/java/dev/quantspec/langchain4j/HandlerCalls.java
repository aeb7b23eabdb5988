package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls a user's {@link StreamingChatResponseHandler} for one request, on the worker thread, with the
 * LangChain4j contract: an exception thrown by {@code onPartialResponse} or {@code onCompleteResponse}
 * goes to {@code onError} and the stream goes on; an exception thrown by {@code onError} is logged and
 * dropped; once the request is cancelled, nothing more is called.
 */
final class HandlerCalls {
    private static final Logger LOG = LoggerFactory.getLogger(HandlerCalls.class);

    private final StreamingChatResponseHandler handler;
    private final RequestStreamingHandle handle;
    private final PartialResponseContext context;

    HandlerCalls(StreamingChatResponseHandler handler, RequestStreamingHandle handle) {
        this.handler = handler;
        this.handle = handle;
        this.context = new PartialResponseContext(handle);
    }

    /** One piece of the answer; empty pieces (half a UTF-8 character, a held-back stop prefix) are skipped. */
    void partial(String text) {
        if (text.isEmpty() || handle.isCancelled()) {
            return;
        }
        try {
            handler.onPartialResponse(new PartialResponse(text), context);
        } catch (Exception e) {
            error(e);
        }
    }

    void complete(ChatResponse response) {
        if (handle.isCancelled()) {
            return;
        }
        try {
            handler.onCompleteResponse(response);
        } catch (Exception e) {
            error(e);
        }
    }

    void error(Throwable error) {
        if (handle.isCancelled()) {
            return;
        }
        try {
            handler.onError(error);
        } catch (Exception e) {
            LOG.warn("QuantSpec: the streaming handler's onError threw; ignored (the error it was given: {})",
                    error.toString(), e);
        }
    }
}
