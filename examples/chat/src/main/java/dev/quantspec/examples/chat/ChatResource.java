package dev.quantspec.examples.chat;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import dev.quantspec.langchain4j.QuantSpecChatResponseMetadata;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * Streams an answer token by token as server-sent events (GET, so the page can use EventSource).
 * The streaming model calls back on its own worker thread; nothing here blocks the event loop.
 * When the browser goes away the subscription is cancelled and so is the generation.
 */
@Path("/chat")
public class ChatResource {

    @Inject
    StreamingChatModel model;

    @GET
    @Path("/stream")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    public Multi<ChatEvent> stream(@QueryParam("message") String message) {
        if (message == null || message.isBlank()) {
            throw new BadRequestException("the query parameter 'message' is empty");
        }
        ChatRequest request = ChatRequest.builder().messages(UserMessage.from(message)).build();
        return Multi.createFrom().emitter(emitter -> {
            AtomicReference<StreamingHandle> handle = new AtomicReference<>();
            emitter.onTermination(() -> {
                StreamingHandle h = handle.get();
                if (h != null && !h.isCancelled()) {
                    h.cancel();
                }
            });
            model.chat(request, new Forwarder(emitter, handle));
        });
    }

    /** Turns the model's callbacks into events on the emitter. */
    private record Forwarder(MultiEmitter<? super ChatEvent> emitter, AtomicReference<StreamingHandle> handle)
            implements StreamingChatResponseHandler {

        @Override
        public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
            handle.compareAndSet(null, context.streamingHandle());
            emitter.emit(ChatEvent.token(partial.text()));
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            Double speed = null;
            Double acceptance = null;
            if (response.metadata() instanceof QuantSpecChatResponseMetadata m) {
                acceptance = m.acceptanceRate();
                if (m.decodeStats().get("decode_tokens_per_s") instanceof Number n) {
                    speed = n.doubleValue();
                }
            }
            Integer tokens = response.tokenUsage() == null ? null : response.tokenUsage().outputTokenCount();
            emitter.emit(ChatEvent.done(tokens, speed, acceptance));
            emitter.complete();
        }

        @Override
        public void onError(Throwable error) {
            emitter.emit(ChatEvent.error(String.valueOf(error.getMessage())));
            emitter.complete();
        }
    }
}
