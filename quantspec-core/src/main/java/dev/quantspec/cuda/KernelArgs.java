package dev.quantspec.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code kernelParams} of cuLaunchKernel: an array whose entry i points at the value of the
 * kernel's argument i. Each value lives in its own small native allocation, freed by {@link #close()}.
 * The driver copies the values at launch, so the arguments may be closed right after.
 */
final class KernelArgs implements AutoCloseable {
    private final List<Pointer> values = new ArrayList<>();
    private PointerPointer<Pointer> array;

    KernelArgs buffer(DeviceBuffer buffer) {
        values.add(new LongPointer(1).put(buffer.address()));
        return this;
    }

    KernelArgs i32(int value) {
        values.add(new IntPointer(1).put(value));
        return this;
    }

    /** A 64-bit integer argument; also a null device pointer as {@code i64(0)}. */
    KernelArgs i64(long value) {
        values.add(new LongPointer(1).put(value));
        return this;
    }

    KernelArgs f32(float value) {
        values.add(new FloatPointer(1).put(value));
        return this;
    }

    PointerPointer<Pointer> pointers() {
        if (array == null) {
            array = new PointerPointer<>(values.size());
            for (int i = 0; i < values.size(); i++) {
                array.put(i, values.get(i));
            }
        }
        return array;
    }

    @Override
    public void close() {
        if (array != null) array.close();
        values.forEach(Pointer::close);
    }
}
