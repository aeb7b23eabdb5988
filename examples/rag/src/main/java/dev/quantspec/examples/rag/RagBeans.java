package dev.quantspec.examples.rag;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The in-process embedding model (all-MiniLM-L6-v2, from its Maven artifact) and the in-memory store. */
public class RagBeans {

    @Produces
    @Singleton
    InMemoryEmbeddingStore<TextSegment> store() {
        return new InMemoryEmbeddingStore<>();
    }

    @Produces
    @Singleton
    AllMiniLmL6V2EmbeddingModel miniLm() {
        return new AllMiniLmL6V2EmbeddingModel();
    }
}
