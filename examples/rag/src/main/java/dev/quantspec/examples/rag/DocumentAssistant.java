package dev.quantspec.examples.rag;

import dev.langchain4j.service.SystemMessage;
import io.quarkiverse.langchain4j.RegisterAiService;

/** Answers from the documents folder; QuantSpec is the chat model (the only provider present). */
@RegisterAiService(retrievalAugmentor = DocumentRetrieval.class)
public interface DocumentAssistant {

    @SystemMessage("Answer the question using only the information given with it. Be brief.")
    String answer(String question);
}
