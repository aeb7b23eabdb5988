package dev.quantspec.generate;

/** Receives each generated token as it is produced, on the decoding thread. */
@FunctionalInterface
public interface GenerationListener {
    GenerationListener NONE = (id, text) -> { };

    /**
     * @param tokenId the token just generated
     * @param text    the text that became final with it: possibly empty (half of a UTF-8 character,
     *                or a possible start of a stop string held back); all calls' texts concatenate to
     *                the result's text
     */
    void onToken(int tokenId, String text);
}
