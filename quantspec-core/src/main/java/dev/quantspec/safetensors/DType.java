package dev.quantspec.safetensors;

import dev.quantspec.ModelFormatException;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types the engine reads from safetensors files. Llama checkpoints ship in bf16, f16
 * or f32; quantized or boolean tensors (I8, F8_E4M3, BOOL, ...) belong to formats the engine does
 * not load, so they are refused when the header is parsed rather than misread later.
 */
public enum DType {
    BF16(2),
    F16(2),
    F32(4);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes one element occupies in the file. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Parses the {@code dtype} string of a safetensors header entry.
     *
     * @param s          the header's dtype string, e.g. {@code "BF16"}
     * @param tensorName the tensor that declares it, for the error message
     * @param file       the file that holds it, for the error message
     * @throws ModelFormatException when the dtype is not one of {@link #values()}
     */
    public static DType parse(String s, String tensorName, Path file) {
        if (s != null) {
            for (DType d : values()) {
                if (d.name().equals(s)) {
                    return d;
                }
            }
        }
        String supported = Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
        throw new ModelFormatException("tensor " + tensorName + " in " + file + " has dtype " + s
                + ", which is not supported: only " + supported + " tensors can be loaded");
    }
}
