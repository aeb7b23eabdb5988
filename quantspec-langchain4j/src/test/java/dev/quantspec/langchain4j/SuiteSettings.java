package dev.quantspec.langchain4j;

import java.net.URISyntaxException;

/** What the LangChain4j suites need from this module's test resources. */
public final class SuiteSettings {
    private SuiteSettings() {}

    /** A file: URL of a one-pixel PNG, for the suites' "images are not supported" tests. */
    public static String localImageUrl() {
        try {
            return SuiteSettings.class.getResource("/one-pixel.png").toURI().toString();
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource one-pixel.png is missing", e);
        }
    }
}
