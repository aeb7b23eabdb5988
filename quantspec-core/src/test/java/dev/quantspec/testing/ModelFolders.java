package dev.quantspec.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Builds variants of a real model folder in a temporary directory, for error-path tests. */
public final class ModelFolders {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFolders() {}

    /** Copies the named files of {@code source} into {@code target} (created if needed). */
    public static Path copyFiles(Path source, Path target, String... names) {
        try {
            Files.createDirectories(target);
            for (String name : names) {
                Files.copy(source.resolve(name), target.resolve(name));
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes {@code target/fileName} as the JSON object of {@code source/fileName} after
     * {@code edit} has changed it; returns {@code target}.
     */
    public static Path editJson(Path source, Path target, String fileName, Consumer<ObjectNode> edit) {
        try {
            ObjectNode root = (ObjectNode) JSON.readTree(source.resolve(fileName).toFile());
            edit.accept(root);
            Files.createDirectories(target);
            Files.writeString(target.resolve(fileName), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
