package dev.quantspec.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the project's embedded model and the shared reference folder that sits beside the
 * checkout ({@code ../shared}). Tests that need them fail, never skip, when they are missing:
 * a reference test that silently skips proves nothing.
 */
public final class TestFiles {
    private TestFiles() {}

    /** The repository root: the nearest ancestor of the working directory holding {@code models/qs-tiny}. */
    public static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("models/qs-tiny")) && Files.exists(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the repository root (models/qs-tiny) above " + Path.of("").toAbsolutePath());
    }

    /** {@code ../shared} beside the checkout, or the folder named by -Dquantspec.shared. */
    public static Path shared() {
        String override = System.getProperty("quantspec.shared");
        Path dir = override != null ? Path.of(override) : repoRoot().getParent().resolve("shared");
        if (!Files.isDirectory(dir.resolve("reference"))) {
            throw new IllegalStateException("the shared reference folder is missing: " + dir
                    + " (expected beside the checkout, or set -Dquantspec.shared=DIR)");
        }
        return dir;
    }

    public static Path reference(String file) {
        return shared().resolve("reference").resolve(file);
    }

    /** The embedded default model, shipped in the repository. */
    public static Path qsTiny() {
        return repoRoot().resolve("models/qs-tiny");
    }

    /** The sharded 25M-parameter model from the shared folder. */
    public static Path qsSmall() {
        return shared().resolve("models/qs-small");
    }
}
