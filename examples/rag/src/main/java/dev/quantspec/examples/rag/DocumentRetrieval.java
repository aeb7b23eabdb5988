package dev.quantspec.examples.rag;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.rag.DefaultRetrievalAugmentor;
import dev.langchain4j.rag.RetrievalAugmentor;
import dev.langchain4j.rag.content.retriever.EmbeddingStoreContentRetriever;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.function.Supplier;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** The retrieval step of the AI service: the closest segments of the documents join the user message. */
@ApplicationScoped
public class DocumentRetrieval implements Supplier<RetrievalAugmentor> {

    @Inject
    InMemoryEmbeddingStore<TextSegment> store;

    @Inject
    AllMiniLmL6V2EmbeddingModel embeddingModel;

    @ConfigProperty(name = "rag.max-results", defaultValue = "2")
    int maxResults;

    @Override
    public RetrievalAugmentor get() {
        return DefaultRetrievalAugmentor.builder()
                .contentRetriever(EmbeddingStoreContentRetriever.builder()
                        .embeddingStore(store)
                        .embeddingModel(embeddingModel)
                        .maxResults(maxResults)
                        .build())
                .build();
    }
}
