package dev.quantspec.examples.rag;

import dev.langchain4j.data.document.Document;
import dev.langchain4j.data.document.loader.FileSystemDocumentLoader;
import dev.langchain4j.data.document.parser.TextDocumentParser;
import dev.langchain4j.data.document.splitter.DocumentSplitters;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.store.embedding.EmbeddingStoreIngestor;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/** Splits and embeds every .txt and .md file of the documents folder into the store, at startup. */
@Startup
@Singleton
public class DocumentIngestor {
    private static final Logger LOG = Logger.getLogger(DocumentIngestor.class);

    @ConfigProperty(name = "rag.documents")
    Path folder;

    @Inject
    InMemoryEmbeddingStore<TextSegment> store;

    @Inject
    AllMiniLmL6V2EmbeddingModel embeddingModel;

    @PostConstruct
    void ingest() {
        if (!Files.isDirectory(folder)) {
            throw new IllegalStateException("rag.documents=" + folder + ": the folder " + folder.toAbsolutePath()
                    + " does not exist");
        }
        List<Document> documents = FileSystemDocumentLoader.loadDocuments(folder,
                path -> path.toString().endsWith(".txt") || path.toString().endsWith(".md"), new TextDocumentParser());
        // Segments of ~300 characters keep two retrieved pieces well inside a small model's context.
        EmbeddingStoreIngestor.builder()
                .documentSplitter(DocumentSplitters.recursive(300, 30))
                .embeddingModel(embeddingModel)
                .embeddingStore(store)
                .build()
                .ingest(documents);
        LOG.infof("RAG: %d documents of %s embedded with all-MiniLM-L6-v2", documents.size(), folder.toAbsolutePath());
    }
}
