package dev.quantspec.generate;

/** Why a generation ended. */
public enum FinishReason {
    /** An end-of-sequence token or a stop string. */
    STOP,
    /** The token budget (max new tokens) was used up. */
    LENGTH,
    /** The caller cancelled the request. */
    CANCELLED;

    /** The OpenAI-style lower-case name used in JSON output. */
    public String jsonName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
