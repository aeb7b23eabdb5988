package dev.quantspec.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of one safetensors file.
 *
 * <p>Layout: an unsigned 64-bit little-endian header length N, N bytes of JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (plus an optional
 * {@code __metadata__} string map), then the data area; offsets are relative to the data area.
 * Everything the header claims is checked against the file before anything is mapped, so a
 * truncated download or a corrupt header fails here with a message instead of a crash later.
 */
final class SafetensorsHeader {
    /** The format's own ceiling on header size; anything larger is corrupt, not a real header. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** One tensor as declared by the header; {@code begin}/{@code end} are absolute file offsets. */
    record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        long byteSize() {
            return end - begin;
        }
    }

    /** Absolute file offset of the data area (8 + header length). */
    final long dataStart;
    /** Tensors in header order. */
    final List<Entry> entries;

    private SafetensorsHeader(long dataStart, List<Entry> entries) {
        this.dataStart = dataStart;
        this.entries = entries;
    }

    static SafetensorsHeader read(FileChannel channel, Path file) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw new ModelFormatException(file + " is " + fileSize
                    + " bytes long, too short for the 8-byte safetensors header length: the file is truncated or not a safetensors file");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lengthBytes, 0, file);
        long headerLength = lengthBytes.getLong(0);
        // The length is unsigned: a negative long is a length above 2^63, certainly corrupt.
        if (headerLength < 0 || headerLength > fileSize - 8) {
            throw new ModelFormatException("the header of " + file + " claims " + Long.toUnsignedString(headerLength)
                    + " bytes but the file has only " + (fileSize - 8)
                    + " bytes after the length field: the file is truncated or not a safetensors file");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw new ModelFormatException("the header of " + file + " claims " + headerLength
                    + " bytes, more than the format's limit of " + MAX_HEADER_BYTES + ": the file is corrupt");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBytes, 8, file);

        JsonNode root;
        try {
            root = JSON.readTree(headerBytes.array());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException("the JSON header of " + file + " is malformed: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException("the JSON header of " + file + " is not an object of tensor entries");
        }
        long dataStart = 8 + headerLength;
        long dataBytes = fileSize - dataStart;
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA_KEY)) {
                continue;
            }
            entries.add(parseEntry(field.getKey(), field.getValue(), dataStart, dataBytes, file));
        }
        rejectOverlaps(entries, dataStart, file);
        return new SafetensorsHeader(dataStart, List.copyOf(entries));
    }

    private static Entry parseEntry(String name, JsonNode node, long dataStart, long dataBytes, Path file) {
        if (!node.isObject()) {
            throw new ModelFormatException("tensor " + name + " in the header of " + file + " is not a JSON object");
        }
        DType dtype = DType.parse(node.path("dtype").isTextual() ? node.get("dtype").asText() : null, name, file);
        long[] shape = nonNegativeLongs(node.get("shape"), -1, "shape", name, file);
        long[] offsets = nonNegativeLongs(node.get("data_offsets"), 2, "data_offsets", name, file);
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new ModelFormatException("tensor " + name + " in " + file + " has data_offsets [" + begin + ", " + end
                    + ") that end before they begin: the header is corrupt");
        }
        if (end > dataBytes) {
            throw new ModelFormatException("tensor " + name + " claims bytes [" + begin + ", " + end
                    + ") but the data area of " + file + " has only " + dataBytes
                    + " bytes: the file is truncated or corrupt");
        }
        long expectedBytes;
        try {
            long elements = 1;
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
            expectedBytes = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new ModelFormatException("tensor " + name + " in " + file + " has shape " + Arrays.toString(shape)
                    + " whose byte size overflows 64 bits: the header is corrupt");
        }
        if (end - begin != expectedBytes) {
            throw new ModelFormatException("tensor " + name + " in " + file + " has shape " + Arrays.toString(shape)
                    + " of " + dtype + ", which needs " + expectedBytes + " bytes, but its data_offsets [" + begin + ", "
                    + end + ") span " + (end - begin) + " bytes: the header is corrupt");
        }
        return new Entry(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    /** Reads a JSON array of non-negative integers; {@code expectedLength} -1 accepts any length. */
    private static long[] nonNegativeLongs(JsonNode node, int expectedLength, String key, String name, Path file) {
        if (node == null || !node.isArray() || (expectedLength >= 0 && node.size() != expectedLength)) {
            String want = expectedLength >= 0 ? "an array of " + expectedLength + " integers" : "an array of integers";
            throw new ModelFormatException("tensor " + name + " in " + file + " has " + key + " " + node
                    + ", expected " + want);
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
                throw new ModelFormatException("tensor " + name + " in " + file + " has " + key + " " + node
                        + ": element " + i + " is not a non-negative 64-bit integer");
            }
            values[i] = v.asLong();
        }
        return values;
    }

    /** Two tensors sharing bytes would silently alias each other's weights; that is corruption. */
    private static void rejectOverlaps(List<Entry> entries, long dataStart, Path file) {
        List<Entry> byBegin = new ArrayList<>(entries);
        byBegin.removeIf(e -> e.byteSize() == 0);
        byBegin.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byBegin.size(); i++) {
            Entry previous = byBegin.get(i - 1);
            Entry current = byBegin.get(i);
            if (current.begin() < previous.end()) {
                throw new ModelFormatException("tensors " + previous.name() + " [" + (previous.begin() - dataStart) + ", "
                        + (previous.end() - dataStart) + ") and " + current.name() + " [" + (current.begin() - dataStart)
                        + ", " + (current.end() - dataStart) + ") overlap in " + file + ": the header is corrupt");
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position, Path file) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position + dst.position());
            if (n < 0) {
                throw new ModelFormatException(file + " ended while reading its safetensors header: the file is truncated");
            }
        }
    }
}
