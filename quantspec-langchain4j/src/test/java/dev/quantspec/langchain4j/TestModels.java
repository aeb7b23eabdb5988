package dev.quantspec.langchain4j;

import dev.quantspec.Backend;
import dev.quantspec.EngineOptions;
import dev.quantspec.QuantSpecEngine;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the embedded model {@code models/qs-tiny} at the repository root and loads it the way
 * these tests need it (CPU backend, two threads). A missing model fails the test, never skips it.
 */
public final class TestModels {
    private TestModels() {}

    /** The nearest ancestor of the working directory holding {@code models/qs-tiny} and a pom.xml. */
    public static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("models/qs-tiny")) && Files.exists(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the repository root (models/qs-tiny) above " + Path.of("").toAbsolutePath());
    }

    public static Path qsTiny() {
        return repoRoot().resolve("models/qs-tiny");
    }

    /** CPU, two threads: the CI machine's size; the context as given (0 = the model's). */
    public static EngineOptions cpuOptions(int contextLength) {
        return EngineOptions.defaults().withBackend(Backend.CPU).withThreads(2).withContextLength(contextLength);
    }

    public static QuantSpecEngine loadQsTiny() {
        return QuantSpecEngine.load(qsTiny(), cpuOptions(0));
    }

    public static QuantSpecEngine loadQsTiny(int contextLength) {
        return QuantSpecEngine.load(qsTiny(), cpuOptions(contextLength));
    }
}
