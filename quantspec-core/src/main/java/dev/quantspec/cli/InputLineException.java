package dev.quantspec.cli;

import dev.quantspec.QuantSpecException;

/** A line of a JSONL input file the CLI cannot use; the message names the file and the line. */
final class InputLineException extends QuantSpecException {
    InputLineException(String source, int lineNumber, String problem) {
        super(source + " line " + lineNumber + ": " + problem);
    }
}
