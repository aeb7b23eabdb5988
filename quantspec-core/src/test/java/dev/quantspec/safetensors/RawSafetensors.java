package dev.quantspec.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A deliberately naive reader for tests: reads one element's bytes straight from the file with
 * {@link RandomAccessFile} and decodes bf16 by hand, sharing no code with the production reader.
 */
final class RawSafetensors {
    private final Path file;
    private final long dataStart;
    private final JsonNode header;

    RawSafetensors(Path file) throws IOException {
        this.file = file;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            byte[] length = new byte[8];
            raf.readFully(length);
            long n = 0;
            for (int i = 7; i >= 0; i--) {
                n = (n << 8) | (length[i] & 0xFF);
            }
            byte[] json = new byte[(int) n];
            raf.readFully(json);
            this.header = new ObjectMapper().readTree(new String(json, StandardCharsets.UTF_8));
            this.dataStart = 8 + n;
        }
    }

    JsonNode entry(String tensor) {
        return header.get(tensor);
    }

    /** Element {@code index} (row-major) of a BF16 tensor, decoded from its two raw bytes. */
    float bf16(String tensor, long index) throws IOException {
        JsonNode entry = header.get(tensor);
        if (!entry.get("dtype").asText().equals("BF16")) {
            throw new IllegalArgumentException(tensor + " is not BF16");
        }
        long at = dataStart + entry.get("data_offsets").get(0).asLong() + 2 * index;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(at);
            int lo = raf.read();
            int hi = raf.read();
            int bits = (hi << 24) | (lo << 16); // bf16 is the top half of a float32
            return Float.intBitsToFloat(bits);
        }
    }
}
