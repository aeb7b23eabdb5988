package dev.quantspec.quarkus.it;

import io.quarkiverse.langchain4j.RegisterAiService;
import io.smallrye.mutiny.Multi;

/** The AI service of the test application; QuantSpec is the only chat model provider, so it is used. */
@RegisterAiService
public interface Assistant {
    String chat(String message);

    Multi<String> stream(String message);
}
