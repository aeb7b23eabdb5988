package dev.quantspec.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quantspec.QuantSpecException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Reads JSON Lines input (one object per line, blank lines ignored) and writes JSON Lines output.
 * Every problem with an input line names the file and the 1-based line number.
 */
final class JsonLines {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One object of the input and where it came from. */
    record Line(String source, int number, ObjectNode object) {
        InputLineException error(String problem) {
            return new InputLineException(source, number, problem);
        }

        /** Fails on any field outside {@code allowed}: a typo such as "max_tokens" must not be silently ignored. */
        void requireOnlyFields(Set<String> allowed) {
            for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!allowed.contains(f)) {
                    throw error("unknown field '" + f + "' (expected " + String.join(", ", allowed) + ")");
                }
            }
        }

        /** The "id" to echo back: any JSON value, or the line number when the line has none. */
        JsonNode id() {
            JsonNode id = object.get("id");
            return id != null ? id : JSON.getNodeFactory().numberNode(number);
        }

        /** A required string field. */
        String string(String field) {
            JsonNode v = object.get(field);
            if (v == null || v.isNull()) {
                throw error("the field '" + field + "' is missing");
            }
            if (!v.isTextual()) {
                throw error("'" + field + "' must be a string, got " + v.getNodeType().toString().toLowerCase());
            }
            return v.textValue();
        }
    }

    private JsonLines() {}

    /** Reads {@code source}: a file path, or "-" for {@code stdin}. */
    static List<Line> read(String source, InputStream stdin) {
        String name = source.equals("-") ? "<stdin>" : source;
        try (BufferedReader reader = source.equals("-")
                ? new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8))
                : Files.newBufferedReader(Path.of(source), StandardCharsets.UTF_8)) {
            List<Line> lines = new ArrayList<>();
            int number = 0;
            for (String text; (text = reader.readLine()) != null; ) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = JSON.readTree(text);
                } catch (JsonProcessingException e) {
                    throw new InputLineException(name, number, "not valid JSON (" + e.getOriginalMessage() + ")");
                }
                if (!(node instanceof ObjectNode obj)) {
                    throw new InputLineException(name, number, "expected a JSON object, got " + node.getNodeType().toString().toLowerCase());
                }
                lines.add(new Line(name, number, obj));
            }
            return lines;
        } catch (NoSuchFileException e) {
            throw new QuantSpecException("input file " + name + " does not exist");
        } catch (IOException e) {
            throw new QuantSpecException("cannot read " + name + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code value} as one compact JSON line and flushes, so a consumer sees each result at once. */
    static void write(java.io.PrintWriter out, Object value) {
        try {
            out.println(JSON.writeValueAsString(value));
            out.flush();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize output line: " + e.getMessage(), e);
        }
    }
}
