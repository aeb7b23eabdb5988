package dev.quantspec.cuda;

/**
 * One layer's hierarchical KV cache in device memory, laid out as {@link QuantizedKvLayout} says.
 * Owns its buffers.
 */
public final class DeviceQuantizedKv implements AutoCloseable {
    private final QuantizedKvLayout layout;
    final DeviceBuffer keyUpper;     // u8 [kvHeads][capacity][headDim/2]
    final DeviceBuffer keyLower;     // u8 [kvHeads][capacity][headDim/2]
    final DeviceBuffer valueUpper;   // u8 [kvHeads][capacity][headDim/2]
    final DeviceBuffer valueLower;   // u8 [kvHeads][capacity][headDim/2]
    final DeviceBuffer keyParams;    // f16 [kvHeads][capacity/G][headDim][2]: (scale, min)
    final DeviceBuffer valueParams;  // f16 [kvHeads][capacity][headDim/vg][2]: (scale, min)
    final DeviceBuffer bufferKeys;   // f16 [kvHeads][bufferCapacity][headDim]
    final DeviceBuffer bufferValues; // f16 [kvHeads][bufferCapacity][headDim]

    public DeviceQuantizedKv(CudaContext context, QuantizedKvLayout layout) {
        this.layout = layout;
        String shape = "[" + layout.kvHeads() + "][" + layout.capacity() + "][" + layout.headDim() / 2 + "]";
        keyUpper = context.allocate("key upper nibbles u8" + shape, layout.planeBytes());
        keyLower = context.allocate("key lower nibbles u8" + shape, layout.planeBytes());
        valueUpper = context.allocate("value upper nibbles u8" + shape, layout.planeBytes());
        valueLower = context.allocate("value lower nibbles u8" + shape, layout.planeBytes());
        keyParams = context.allocate("key params f16[" + layout.kvHeads() + "][" + layout.maxGroups() + "]["
                + layout.headDim() + "][2]", layout.keyParamsBytes());
        valueParams = context.allocate("value params f16[" + layout.kvHeads() + "][" + layout.capacity() + "]["
                + layout.valueGroups() + "][2]", layout.valueParamsBytes());
        bufferKeys = context.allocate("buffer keys f16[" + layout.kvHeads() + "][" + layout.bufferCapacity() + "]["
                + layout.headDim() + "]", layout.bufferBytes());
        bufferValues = context.allocate("buffer values f16[" + layout.kvHeads() + "][" + layout.bufferCapacity() + "]["
                + layout.headDim() + "]", layout.bufferBytes());
    }

    public QuantizedKvLayout layout() {
        return layout;
    }

    public DeviceBuffer keyUpper() { return keyUpper; }
    public DeviceBuffer keyLower() { return keyLower; }
    public DeviceBuffer valueUpper() { return valueUpper; }
    public DeviceBuffer valueLower() { return valueLower; }
    public DeviceBuffer keyParams() { return keyParams; }
    public DeviceBuffer valueParams() { return valueParams; }
    public DeviceBuffer bufferKeys() { return bufferKeys; }
    public DeviceBuffer bufferValues() { return bufferValues; }

    @Override
    public void close() {
        keyUpper.close();
        keyLower.close();
        valueUpper.close();
        valueLower.close();
        keyParams.close();
        valueParams.close();
        bufferKeys.close();
        bufferValues.close();
    }
}
