package dev.quantspec;

/** Base of every error the engine reports to its users; the message always says what to fix. */
public class QuantSpecException extends RuntimeException {
    public QuantSpecException(String message) {
        super(message);
    }

    public QuantSpecException(String message, Throwable cause) {
        super(message, cause);
    }
}
