package dev.quantspec.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes small safetensors files for tests: well-formed ones through {@link #add}, and corrupt ones
 * through {@link #writeRaw}, whose header may claim anything.
 */
public final class SafetensorsTestWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ObjectNode header = JSON.createObjectNode();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();

    public SafetensorsTestWriter() {
        header.putObject("__metadata__").put("format", "pt");
    }

    /** Appends a tensor whose bytes are {@code bytes} (little-endian, row-major). */
    public SafetensorsTestWriter add(String name, String dtype, long[] shape, byte[] bytes) {
        ObjectNode entry = header.putObject(name);
        entry.put("dtype", dtype);
        ArrayNode dims = entry.putArray("shape");
        for (long d : shape) {
            dims.add(d);
        }
        entry.putArray("data_offsets").add(data.size()).add(data.size() + bytes.length);
        data.writeBytes(bytes);
        return this;
    }

    public SafetensorsTestWriter addF32(String name, long[] shape, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return add(name, "F32", shape, b.array());
    }

    /** Stores raw 16-bit patterns, for F16 and BF16 tensors. */
    public SafetensorsTestWriter add16(String name, String dtype, long[] shape, short... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short s : bits) {
            b.putShort(s);
        }
        return add(name, dtype, shape, b.array());
    }

    public Path write(Path file) throws IOException {
        return writeRaw(file, JSON.writeValueAsString(header), data.toByteArray());
    }

    /** Writes the length field, {@code headerJson} and {@code data} as they are. */
    public static Path writeRaw(Path file, String headerJson, byte[] data) throws IOException {
        byte[] headerBytes = headerJson.getBytes(StandardCharsets.UTF_8);
        return writeRaw(file, headerBytes.length, headerBytes, data);
    }

    /** Writes {@code lengthField} as the header length, whatever the real header size. */
    public static Path writeRaw(Path file, long lengthField, byte[] headerBytes, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + headerBytes.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(lengthField).put(headerBytes).put(data);
        Files.write(file, b.array());
        return file;
    }
}
