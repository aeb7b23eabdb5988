package dev.quantspec.langchain4j;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.quantspec.generate.FinishReason;
import dev.quantspec.generate.GenerationResult;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A LangChain4j {@link StreamingChatModel} running a Llama-family model in-process on the QuantSpec
 * engine.
 *
 * <p>{@code chat} returns at once; a worker thread waits in the engine's queue, decodes, and makes
 * every callback of the request (partials in order, then exactly one {@code onCompleteResponse} or
 * {@code onError}). What the engine cannot do (tools, JSON output, images, ...) is refused by
 * throwing {@code UnsupportedFeatureException} from {@code chat} itself, before any work starts;
 * everything that goes wrong later reaches {@code onError}. Cancelling through the
 * {@code StreamingHandle} of {@code onPartialResponse(PartialResponse, PartialResponseContext)} stops
 * decoding within a token and ends the request with no further callback.
 */
public class QuantSpecStreamingChatModel extends AbstractQuantSpecChatModel implements StreamingChatModel {
    private static final AtomicInteger WORKER_NUMBER = new AtomicInteger();

    private final Executor executor;
    private final ExecutorService ownExecutor; // null when the caller supplied the executor

    protected QuantSpecStreamingChatModel(Builder builder) {
        super(builder);
        if (builder.executor != null) {
            this.executor = builder.executor;
            this.ownExecutor = null;
        } else {
            // Daemon threads: an abandoned stream must not keep the JVM alive. Cached: requests wait in
            // the engine's queue, not in this pool, so a burst does not serialize behind a pool limit.
            this.ownExecutor = Executors.newCachedThreadPool(daemonThreads());
            this.executor = ownExecutor;
        }
    }

    @Override
    public void doChat(ChatRequest chatRequest, StreamingChatResponseHandler handler) {
        QuantSpecChatRequestParameters parameters = checkRequest(chatRequest); // throws here, not in onError
        RequestStreamingHandle handle = new RequestStreamingHandle();
        executor.execute(() -> stream(chatRequest, parameters, new HandlerCalls(handler, handle), handle));
    }

    private void stream(ChatRequest chatRequest, QuantSpecChatRequestParameters parameters, HandlerCalls calls,
                        RequestStreamingHandle handle) {
        GenerationResult result;
        try {
            result = engine().generate(plan(chatRequest, parameters), (id, text) -> calls.partial(text),
                    handle::isCancelled);
        } catch (RuntimeException | Error e) {
            calls.error(e);
            return;
        }
        observe(result);
        if (result.finishReason() != FinishReason.CANCELLED) {
            calls.complete(ChatResponses.of(result, modelName()));
        }
    }

    /** Also stops this model's own worker threads once their requests have finished. */
    @Override
    public void close() {
        super.close();
        if (ownExecutor != null) {
            ownExecutor.shutdown();
        }
    }

    private static ThreadFactory daemonThreads() {
        return r -> {
            Thread t = new Thread(r, "quantspec-stream-" + WORKER_NUMBER.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    public static Builder builder() {
        return new Builder();
    }

    public static class Builder extends AbstractQuantSpecChatModel.Builder<Builder> {
        private Executor executor;

        /** Runs the requests (e.g. a container-managed executor); default: this model's own daemon threads. */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        public QuantSpecStreamingChatModel build() {
            return new QuantSpecStreamingChatModel(this);
        }
    }
}
