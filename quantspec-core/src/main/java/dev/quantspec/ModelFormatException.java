package dev.quantspec;

/** A model folder or file that is missing, truncated, inconsistent or of an unsupported kind. */
public class ModelFormatException extends QuantSpecException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
