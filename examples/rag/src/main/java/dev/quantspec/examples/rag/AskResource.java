package dev.quantspec.examples.rag;

import jakarta.inject.Inject;
import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

/** {@code GET /ask?q=...}: a String result, so Quarkus REST runs it on a worker thread, off the event loop. */
@Path("/ask")
public class AskResource {

    @Inject
    DocumentAssistant assistant;

    @GET
    @Produces(MediaType.TEXT_PLAIN)
    public String ask(@QueryParam("q") String question) {
        if (question == null || question.isBlank()) {
            throw new BadRequestException("the query parameter 'q' is empty");
        }
        return assistant.answer(question);
    }
}
