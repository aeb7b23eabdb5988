package dev.quantspec.quarkus.it;

import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * The two ways to call a QuantSpec AI service over HTTP. {@code chat} returns a String, so Quarkus
 * REST runs it on a worker thread (blocking inference must stay off the event loop); {@code stream}
 * returns a Multi, whose tokens arrive from the model's own worker threads.
 */
@Path("/assistant")
public class AssistantResource {

    @Inject
    Assistant assistant;

    @POST
    @Path("/chat")
    @Consumes(MediaType.TEXT_PLAIN)
    @Produces(MediaType.TEXT_PLAIN)
    public String chat(String message) {
        return assistant.chat(message);
    }

    @POST
    @Path("/stream")
    @Consumes(MediaType.TEXT_PLAIN)
    @Produces(MediaType.SERVER_SENT_EVENTS)
    public Multi<String> stream(String message) {
        return assistant.stream(message);
    }
}
