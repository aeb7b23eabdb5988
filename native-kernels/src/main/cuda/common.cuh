// Shared helpers for the QuantSpec decode kernels.
//
// Conventions every kernel follows:
//  - activations (hidden state, q/k/v, logits) are fp32 row-major vectors;
//  - weights are bf16 row-major W[rows][cols] (the Hugging Face layout: out_features x in_features);
//  - the KV cache is fp16, one plane per kv head: cache[kvHead][maxSeq][headDim];
//  - all entry points are extern "C" so the host finds them by name with cuModuleGetFunction.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#define QS_FULL_MASK 0xffffffffu

// Sum of v over the `width` lanes of a shuffle group (width a power of two <= 32).
template <int WIDTH>
__device__ __forceinline__ float qs_group_sum(float v) {
#pragma unroll
    for (int offset = WIDTH / 2; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(QS_FULL_MASK, v, offset, WIDTH);
    }
    return v;
}

__device__ __forceinline__ float qs_warp_sum(float v) { return qs_group_sum<32>(v); }

__device__ __forceinline__ float qs_warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(QS_FULL_MASK, v, offset));
    }
    return v;
}

// Programmatic dependent launch (Hopper and later; CudaContext launches the kernels that call this with
// the programmatic-stream-serialization attribute, see ProgrammaticLaunch.java): such a kernel may start
// while the kernel before it on the stream is still finishing, so it must call this before its first
// access to memory that an earlier kernel writes or reads (activations, caches, headers). Reads of memory
// no kernel writes (the weights) may come before it: they then overlap the previous kernel's tail. Without
// the attribute (or before sm_90) this is a no-op.
__device__ __forceinline__ void qs_wait_prior_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Sum over a whole block whose size is a multiple of 32 (at most 1024). `scratch` holds 32 floats.
// Every thread gets the total. Includes the barriers it needs, so it may be called repeatedly.
__device__ __forceinline__ float qs_block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = qs_warp_sum(v);
    __syncthreads();  // scratch may still be read by an earlier call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float total = lane < warps ? scratch[lane] : 0.0f;
    return qs_warp_sum(total);
}

// Eight bf16 values packed in 16 bytes -> eight floats. bf16 is the top half of an fp32, so the
// conversion is a shift, exact.
__device__ __forceinline__ void qs_bf16x8_to_float(const uint4& raw, float* out) {
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        out[2 * i] = __uint_as_float(words[i] << 16);
        out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}

// Eight fp16 values packed in 16 bytes -> eight floats (exact).
__device__ __forceinline__ void qs_half8_to_float(const uint4& raw, float* out) {
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        __half2 h = *reinterpret_cast<const __half2*>(&words[i]);
        float2 f = __half22float2(h);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// A 16-byte load that bypasses L1 allocation: weights and KV are streamed once per step, so
// keeping them in L1 would only evict the activations that are reused.
__device__ __forceinline__ uint4 qs_load_stream16(const void* p) {
    return __ldcs(reinterpret_cast<const uint4*>(p));
}
