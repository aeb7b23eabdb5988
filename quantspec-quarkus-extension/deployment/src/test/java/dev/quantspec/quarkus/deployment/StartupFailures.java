package dev.quantspec.quarkus.deployment;

import java.util.ArrayList;
import java.util.List;

/** Reads startup failures, which Quarkus wraps in other exceptions. */
final class StartupFailures {
    private StartupFailures() {
    }

    /** Every message along the cause chain. */
    static String messages(Throwable t) {
        List<String> out = new ArrayList<>();
        for (Throwable c = t; c != null; c = c.getCause()) {
            out.add(String.valueOf(c.getMessage()));
        }
        return String.join("\n", out);
    }
}
