package dev.quantspec.cuda;

/**
 * Shape of one layer's hierarchical KV cache on the device (the byte layout of
 * {@code dev.quantspec.kv.HierarchicalKvCache}, so planes and params can be compared bit for bit):
 * <pre>
 *   kUpper, kLower, vUpper, vLower  u8     [kvHeads][capacity][headDim/2]   nibble (h*capacity + t)*headDim + c, even c low
 *   kParams                         half2  [kvHeads][capacity/G][headDim]    (scale, min) per key group and channel
 *   vParams                         half2  [kvHeads][capacity][headDim/vg]   (scale, min) per token and value group
 *   bufK, bufV                      fp16   [kvHeads][bufferCapacity][headDim] the full-precision buffer
 * </pre>
 *
 * @param groupSize      G, tokens per key group (a multiple of 4 so a group is whole unrolled steps)
 * @param valueGroupSize channels per value group: a multiple of 8 dividing headDim, because each
 *                       lane of the attention kernels holds 8 channels and one value group's params
 */
public record QuantizedKvLayout(int kvHeads, int headDim, int capacity, int groupSize, int valueGroupSize,
                                int bufferCapacity) {
    public QuantizedKvLayout {
        if (headDim != 64 && headDim != 128) {
            throw new IllegalArgumentException("the quantized-KV kernels are compiled for head dim 64 or 128, got " + headDim);
        }
        if (valueGroupSize % 8 != 0 || headDim % valueGroupSize != 0) {
            throw new IllegalArgumentException("value group size must be a multiple of 8 dividing head dim " + headDim
                    + ", got " + valueGroupSize);
        }
        if (groupSize < 4 || groupSize % 4 != 0 || kvHeads < 1 || capacity < groupSize || bufferCapacity < 1) {
            throw new IllegalArgumentException("bad quantized KV layout: kvHeads " + kvHeads + ", G " + groupSize
                    + ", capacity " + capacity + ", buffer " + bufferCapacity);
        }
    }

    /** Bytes of one group's (scale, min): two fp16 (ResidualQuantizer rounds them to halves). */
    public static final int PARAM_BYTES = 4;

    /** Key groups per kv head: {@code capacity / G}, as the CPU cache sizes its params. */
    public int maxGroups() {
        return capacity / groupSize;
    }

    public int valueGroups() {
        return headDim / valueGroupSize;
    }

    /** Bytes of one nibble plane (any of the four). */
    public long planeBytes() {
        return (long) kvHeads * capacity * headDim / 2;
    }

    public long keyParamsBytes() {
        return (long) kvHeads * maxGroups() * headDim * PARAM_BYTES;
    }

    public long valueParamsBytes() {
        return (long) kvHeads * capacity * valueGroups() * PARAM_BYTES;
    }

    /** Bytes of one of the two fp16 buffers. */
    public long bufferBytes() {
        return (long) kvHeads * bufferCapacity * headDim * 2;
    }
}
