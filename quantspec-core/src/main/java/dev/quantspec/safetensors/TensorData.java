package dev.quantspec.safetensors;

import dev.quantspec.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors file, memory-mapped read-only and never copied to the heap.
 *
 * <p>A {@link MappedByteBuffer} addresses at most 2 GiB, and a single tensor of a large model
 * (e.g. a 128256 x 8192 bf16 embedding, 2.1 GB) can exceed that. The tensor is therefore mapped as
 * one or more chunks, split at row boundaries (a row is the last dimension) so that no row straddles
 * two buffers and row-wise kernels never need to stitch. Every chunk but the last holds
 * {@link #rowsPerChunk()} rows.
 *
 * <p>Lifetime: the mappings belong to the {@link SafetensorsFile} and are released when it closes.
 * The public methods check that the file is still open and throw {@link IllegalStateException}
 * otherwise, but a {@link #chunk} buffer obtained earlier is not checked: a hot loop holding one
 * must not outlive the model, or it reads unmapped memory and crashes the JVM. Closing while
 * another thread is inside a method of this class has the same effect; close only when idle.
 */
public final class TensorData {
    private final SafetensorsFile owner;
    private final String name;
    private final DType dtype;
    /** The header's shape, outermost dimension first; {@code []} for a scalar. */
    private final long[] shape;
    private final long elementCount;
    /** Product of every dimension but the last (1 for 1-D and scalars). */
    private final int rows;
    /** The last dimension (1 for scalars). */
    private final int cols;
    private final int rowsPerChunk;
    /** [chunkCount] little-endian read-only mappings; chunk c holds rows [c*rowsPerChunk, min(rows, (c+1)*rowsPerChunk)). */
    private final MappedByteBuffer[] chunks;

    private TensorData(SafetensorsFile owner, SafetensorsHeader.Entry entry, int rows, int cols,
                       int rowsPerChunk, MappedByteBuffer[] chunks) {
        this.owner = owner;
        this.name = entry.name();
        this.dtype = entry.dtype();
        this.shape = entry.shape().clone();
        this.elementCount = entry.byteSize() / entry.dtype().byteSize();
        this.rows = rows;
        this.cols = cols;
        this.rowsPerChunk = rowsPerChunk;
        this.chunks = chunks;
    }

    /**
     * Maps {@code entry} from {@code channel} in chunks of at most {@code maxChunkBytes} bytes
     * (or one row, if a row is larger). On failure every chunk mapped so far is released.
     */
    static TensorData map(SafetensorsFile owner, FileChannel channel, Path file, SafetensorsHeader.Entry entry,
                          long maxChunkBytes) throws IOException {
        long[] shape = entry.shape();
        long lastDim = shape.length == 0 ? 1 : shape[shape.length - 1];
        long outerDims = 1;
        for (int i = 0; i < shape.length - 1; i++) {
            // Saturate rather than overflow: with a zero last dimension the header's product check
            // does not bound the leading dimensions.
            outerDims = shape[i] != 0 && outerDims > Long.MAX_VALUE / shape[i] ? Long.MAX_VALUE : outerDims * shape[i];
        }
        // No overflow where it matters: the rowBytes test is reached only when lastDim < 2^31.
        long rowBytes = lastDim * entry.dtype().byteSize();
        if (lastDim > Integer.MAX_VALUE || outerDims > Integer.MAX_VALUE || rowBytes > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor " + entry.name() + " in " + file + " has shape "
                    + Arrays.toString(shape) + ": a 2-D view of it needs more than 2^31-1 rows, columns "
                    + "or bytes per row, which the engine does not support");
        }
        int rows = (int) outerDims;
        int cols = (int) lastDim;
        int rowsPerChunk;
        int chunkCount;
        if (entry.byteSize() <= maxChunkBytes || rows == 0) {
            rowsPerChunk = rows;
            chunkCount = 1;
        } else {
            rowsPerChunk = (int) Math.max(1, maxChunkBytes / rowBytes);
            chunkCount = (int) ((rows + (long) rowsPerChunk - 1) / rowsPerChunk);
        }
        MappedByteBuffer[] chunks = new MappedByteBuffer[chunkCount];
        try {
            for (int c = 0; c < chunkCount; c++) {
                long firstRow = (long) c * rowsPerChunk;
                long chunkRows = Math.min(rowsPerChunk, rows - firstRow);
                long offset = entry.begin() + firstRow * rowBytes;
                long size = chunkCount == 1 ? entry.byteSize() : chunkRows * rowBytes;
                MappedByteBuffer chunk = channel.map(FileChannel.MapMode.READ_ONLY, offset, size);
                chunk.order(ByteOrder.LITTLE_ENDIAN);
                chunks[c] = chunk;
            }
        } catch (IOException | RuntimeException e) {
            for (MappedByteBuffer chunk : chunks) {
                if (chunk != null) {
                    MappedBuffers.unmap(chunk);
                }
            }
            throw e;
        }
        return new TensorData(owner, entry, rows, cols, rowsPerChunk, chunks);
    }

    public String name() {
        return name;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the header's shape, outermost dimension first. */
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return elementCount;
    }

    /** Bytes the tensor occupies in the file. */
    public long byteSize() {
        return elementCount * dtype.byteSize();
    }

    /** The file the tensor is mapped from. */
    public Path file() {
        return owner.path();
    }

    /** Rows of the 2-D view: the product of every dimension but the last (1 for a 1-D tensor). */
    public int rows() {
        return rows;
    }

    /** Columns of the 2-D view: the last dimension. */
    public int cols() {
        return cols;
    }

    public int chunkCount() {
        return chunks.length;
    }

    /** Rows held by every chunk but the last (the last may hold fewer). */
    public int rowsPerChunk() {
        return rowsPerChunk;
    }

    /**
     * Chunk {@code i} as a read-only little-endian buffer at position 0. Each call returns a new
     * duplicate, so threads may read their own without coordination. It must not be used after
     * the owning file is closed (see the class comment).
     */
    public ByteBuffer chunk(int i) {
        owner.ensureOpen(name);
        Objects.checkIndex(i, chunks.length);
        // duplicate() resets the byte order to big-endian, hence order() again.
        return chunks[i].duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Element {@code index} in row-major order, converted to float. Scalar: for tests and small tensors. */
    public float getFloat(long index) {
        owner.ensureOpen(name);
        Objects.checkIndex(index, elementCount);
        long row = index / cols;
        int col = (int) (index - row * cols);
        int chunk = (int) (row / rowsPerChunk);
        long rowInChunk = row - (long) chunk * rowsPerChunk;
        int byteOffset = (int) ((rowInChunk * cols + col) * dtype.byteSize());
        return readElement(chunks[chunk], byteOffset);
    }

    /** Converts row {@code row} of the 2-D view into {@code dst[dstOff .. dstOff + cols)}. */
    public void readRow(int row, float[] dst, int dstOff) {
        owner.ensureOpen(name);
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(dstOff, cols, dst.length);
        int chunk = row / rowsPerChunk;
        ByteBuffer buffer = chunks[chunk];
        int base = (row - chunk * rowsPerChunk) * cols * dtype.byteSize();
        // The dtype switch sits outside the loops so each loop is a plain conversion the JIT can unroll.
        switch (dtype) {
            case BF16 -> {
                for (int c = 0; c < cols; c++) {
                    dst[dstOff + c] = Halfs.bf16ToFloat(buffer.getShort(base + 2 * c));
                }
            }
            case F16 -> {
                for (int c = 0; c < cols; c++) {
                    dst[dstOff + c] = Halfs.f16ToFloat(buffer.getShort(base + 2 * c));
                }
            }
            case F32 -> {
                for (int c = 0; c < cols; c++) {
                    dst[dstOff + c] = buffer.getFloat(base + 4 * c);
                }
            }
        }
    }

    private float readElement(ByteBuffer buffer, int byteOffset) {
        return switch (dtype) {
            case BF16 -> Halfs.bf16ToFloat(buffer.getShort(byteOffset));
            case F16 -> Halfs.f16ToFloat(buffer.getShort(byteOffset));
            case F32 -> buffer.getFloat(byteOffset);
        };
    }

    /** The original mappings, for the owner to unmap on close. */
    MappedByteBuffer[] mappedChunks() {
        return chunks;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
