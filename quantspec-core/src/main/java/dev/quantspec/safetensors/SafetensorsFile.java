package dev.quantspec.safetensors;

import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file: its header validated, every tensor memory-mapped read-only.
 *
 * <p>Each tensor gets its own mapping (split into row-aligned chunks when larger than
 * {@link #DEFAULT_MAX_CHUNK_BYTES}), so files and tensors over 2 GB work even though a single
 * {@link MappedByteBuffer} cannot exceed 2 GiB. The file channel is closed right after mapping:
 * mappings stay valid without it, and a sharded 70B model would otherwise hold dozens of
 * descriptors open. {@link #close()} unmaps everything at once (see {@link MappedBuffers}).
 */
public final class SafetensorsFile implements AutoCloseable {
    /**
     * Largest chunk a tensor is mapped in: 1 GiB keeps every chunk comfortably below the 2 GiB
     * buffer limit even after rounding up to a whole row.
     */
    static final long DEFAULT_MAX_CHUNK_BYTES = 1L << 30;

    private final Path path;
    /** Tensors by name, in header order. */
    private final Map<String, TensorData> tensors = new LinkedHashMap<>();
    private volatile boolean closed;

    private SafetensorsFile(Path path) {
        this.path = path;
    }

    /**
     * Opens, validates and maps {@code file}.
     *
     * @throws ModelFormatException when the file is missing, truncated, corrupt or holds a dtype
     *                              the engine cannot read; the message names the file and tensor
     */
    public static SafetensorsFile open(Path file) {
        return open(file, DEFAULT_MAX_CHUNK_BYTES);
    }

    /** As {@link #open(Path)}, with a smaller chunk size so tests can exercise chunking on small files. */
    static SafetensorsFile open(Path file, long maxChunkBytes) {
        if (maxChunkBytes <= 0 || maxChunkBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("maxChunkBytes must be in [1, 2^31-1], got " + maxChunkBytes);
        }
        SafetensorsFile result = new SafetensorsFile(file);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            SafetensorsHeader header = SafetensorsHeader.read(channel, file);
            for (SafetensorsHeader.Entry entry : header.entries) {
                result.tensors.put(entry.name(), TensorData.map(result, channel, file, entry, maxChunkBytes));
            }
            return result;
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("safetensors file " + file + " does not exist", e);
        } catch (IOException e) {
            result.close();
            throw new ModelFormatException("cannot read safetensors file " + file + ": " + e, e);
        } catch (RuntimeException e) {
            result.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * The tensor called {@code name}.
     *
     * @throws ModelFormatException when the file has no such tensor (the message lists similar names)
     */
    public TensorData tensor(String name) {
        ensureOpen(name);
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException("tensor " + name + " is not in " + path + " (" + tensors.size()
                    + " tensors; closest names: " + SimilarNames.closest(name, tensors.keySet(), 5) + ")");
        }
        return t;
    }

    /** Sum of the tensors' byte sizes (the data the file maps, not counting the header). */
    public long totalBytes() {
        long total = 0;
        for (TensorData t : tensors.values()) {
            total += t.byteSize();
        }
        return total;
    }

    /**
     * Unmaps every tensor now. Afterwards the public methods of this file's {@link TensorData}
     * throw {@link IllegalStateException}; buffers handed out by {@link TensorData#chunk} must
     * already be out of use. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (TensorData t : tensors.values()) {
            for (MappedByteBuffer chunk : t.mappedChunks()) {
                if (chunk != null) {
                    MappedBuffers.unmap(chunk);
                }
            }
        }
    }

    void ensureOpen(String tensorName) {
        if (closed) {
            throw new IllegalStateException("tensor " + tensorName + " of " + path
                    + " was used after the file was closed; its memory is unmapped");
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
