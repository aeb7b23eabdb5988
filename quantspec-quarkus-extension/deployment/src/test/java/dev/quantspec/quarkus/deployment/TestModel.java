package dev.quantspec.quarkus.deployment;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's qs-tiny model, located by the build (system property quantspec.test.model). */
final class TestModel {
    private TestModel() {
    }

    static String path() {
        String p = System.getProperty("quantspec.test.model");
        if (p == null || !Files.isRegularFile(Path.of(p, "config.json"))) {
            // Fail rather than skip: these tests are the proof that the extension serves a real model.
            throw new IllegalStateException("qs-tiny not found: system property quantspec.test.model=" + p
                    + " must name the repository's models/qs-tiny folder");
        }
        return Path.of(p).toAbsolutePath().normalize().toString();
    }
}
