// The small per-step kernels of a decode step: each touches a few vectors of the model's width,
// so they are written for clarity; together they move less than 1% of a step's bytes.
#pragma once
#include "common.cuh"

// out[d] = table[token][d] as fp32.
//   table bf16 [vocab][dim], token int[1] on the device (so a captured graph can replay it),
//   out fp32 [dim].
// grid: any (grid-stride), block: any. A token outside [0, vocab) writes NaN, which the host's
// checks and every later comparison make visible instead of reading out of bounds.
extern "C" __global__ void qs_embedding_bf16(const __nv_bfloat16* __restrict__ table,
                                             const int* __restrict__ token,
                                             float* __restrict__ out, int dim, int vocab) {
    qs_wait_prior_grid();
    const int t = *token;
    const bool valid = t >= 0 && t < vocab;
    for (int d = blockIdx.x * blockDim.x + threadIdx.x; d < dim; d += gridDim.x * blockDim.x) {
        out[d] = valid ? __bfloat162float(table[(size_t)t * dim + d]) : __int_as_float(0x7fc00000);
    }
}

// RMSNorm of one row per block: out = x / sqrt(mean(x^2) + eps) * weight, all in fp32.
//   x fp32 [rows][dim], weight bf16 [dim], out fp32 [rows][dim].
// grid: rows, block: RMSNORM_THREADS (a multiple of 32 up to 1024).
// Latency, not bandwidth, is the whole cost at decode sizes (one 16 KB row): every thread issues all
// its loads of x and of the weight at once (16-byte x, 8-byte weight vectors, up to RMSNORM_VEC of each
// held in registers), so the kernel pays about one memory round trip instead of one per strided
// element (the scalar loop took ~10 us per 4096-wide row on an H200). Rows that are not 16-byte
// aligned, dims that are not a multiple of 4 or wider than 4 * RMSNORM_VEC * blockDim take the scalar loop.
constexpr int RMSNORM_VEC = 4;
extern "C" __global__ void qs_rmsnorm(const float* __restrict__ x,
                                      const __nv_bfloat16* __restrict__ weight,
                                      float* __restrict__ out, int dim, float eps) {
    qs_wait_prior_grid();
    __shared__ float scratch[32];
    const float* xr = x + (size_t)blockIdx.x * dim;
    float* outr = out + (size_t)blockIdx.x * dim;
    const bool vec = (dim & 3) == 0 && dim <= 4 * RMSNORM_VEC * (int)blockDim.x &&
                     ((reinterpret_cast<uintptr_t>(xr) | reinterpret_cast<uintptr_t>(outr)) & 15) == 0 &&
                     (reinterpret_cast<uintptr_t>(weight) & 7) == 0;
    if (vec) {  // uniform per block
        const int n4 = dim >> 2;
        float4 v[RMSNORM_VEC];
        uint2 w[RMSNORM_VEC];
        float sumSq = 0.0f;
#pragma unroll
        for (int k = 0; k < RMSNORM_VEC; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (i < n4) {
                v[k] = __ldg(reinterpret_cast<const float4*>(xr) + i);
                w[k] = __ldg(reinterpret_cast<const uint2*>(weight) + i);
            }
        }
#pragma unroll
        for (int k = 0; k < RMSNORM_VEC; ++k) {
            if (threadIdx.x + k * blockDim.x < n4) {
                sumSq = fmaf(v[k].x, v[k].x, sumSq);
                sumSq = fmaf(v[k].y, v[k].y, sumSq);
                sumSq = fmaf(v[k].z, v[k].z, sumSq);
                sumSq = fmaf(v[k].w, v[k].w, sumSq);
            }
        }
        const float total = qs_block_sum(sumSq, scratch);
        const float inv = rsqrtf(total / (float)dim + eps);
#pragma unroll
        for (int k = 0; k < RMSNORM_VEC; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (i < n4) {
                // bf16 -> fp32 is the top half of the word: exact shifts
                float4 o;
                o.x = v[k].x * inv * __uint_as_float(w[k].x << 16);
                o.y = v[k].y * inv * __uint_as_float(w[k].x & 0xffff0000u);
                o.z = v[k].z * inv * __uint_as_float(w[k].y << 16);
                o.w = v[k].w * inv * __uint_as_float(w[k].y & 0xffff0000u);
                reinterpret_cast<float4*>(outr)[i] = o;
            }
        }
        return;
    }
    float sumSq = 0.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) sumSq = fmaf(xr[d], xr[d], sumSq);
    const float total = qs_block_sum(sumSq, scratch);
    const float inv = rsqrtf(total / (float)dim + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        outr[d] = xr[d] * inv * __bfloat162float(weight[d]);
    }
}

// Rotary position embedding, Hugging Face "rotate half" layout: dimension i pairs with
// i + headDim/2, both rotated by the angle position * invFreq[i].
//   q fp32 [nHeads][headDim] and k fp32 [nKvHeads][headDim], rotated in place;
//   invFreq fp32 [headDim/2] (computed on the host, so rope scaling variants need no new kernel);
//   position int[1] on the device.
// grid: nHeads + nKvHeads (one head per block), block: headDim/2.
// The angle is the fp32 product, like the reference implementation; sincosf (not the fast
// intrinsic) keeps large angles (128K positions) accurate. The rotation is written with _rn
// intrinsics (no FMA contraction, as the CPU computes it), and qs_rope_rows (passrows.cuh) calls
// the same function, so a 1-row pass rotates to the same bits as a decode step.
// The rotation of one pair (x1, x2) = (v[i], v[i + half]) by position * invFreq[i] (qs_rope_rotate's math; the
// draft qkv GEMV's RoPE epilogue in q4gemv.cuh calls it on its row totals).
__device__ __forceinline__ void qs_rope_pair(float& x1, float& x2, const float* __restrict__ invFreq, int position,
                                             int i) {
    const float angle = __fmul_rn((float)position, invFreq[i]);
    float s, c;
    sincosf(angle, &s, &c);
    const float a = x1, b = x2;
    x1 = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
    x2 = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
}

__device__ __forceinline__ void qs_rope_rotate(float* v, const float* __restrict__ invFreq, int position, int i,
                                               int half) {
    float x1 = v[i], x2 = v[i + half];
    qs_rope_pair(x1, x2, invFreq, position, i);
    v[i] = x1;
    v[i + half] = x2;
}

extern "C" __global__ void qs_rope(float* __restrict__ q, float* __restrict__ k,
                                   const float* __restrict__ invFreq,
                                   const int* __restrict__ position,
                                   int nHeads, int headDim) {
    qs_wait_prior_grid();
    const int head = blockIdx.x;
    float* v = head < nHeads ? q + (size_t)head * headDim : k + (size_t)(head - nHeads) * headDim;
    const int half = headDim >> 1;
    const int i = threadIdx.x;
    if (i >= half) return;
    qs_rope_rotate(v, invFreq, *position, i, half);
}

// SwiGLU: out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
//   gate, up, out fp32 [n] (out may alias gate). grid-stride: any grid and block.
// qs_swiglu_rows (passrows.cuh) calls the same function.
__device__ __forceinline__ float qs_silu_mul(float g, float u) {
    return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
}

extern "C" __global__ void qs_swiglu(const float* gate, const float* __restrict__ up, float* out,
                                     int n) {
    qs_wait_prior_grid();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        out[i] = qs_silu_mul(gate[i], up[i]);
    }
}

// Residual connection: x[i] += y[i]. x, y fp32 [n]. grid-stride: any grid and block.
extern "C" __global__ void qs_add_inplace(float* __restrict__ x, const float* __restrict__ y, int n) {
    qs_wait_prior_grid();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        x[i] += y[i];
    }
}

// Appends this step's key and value (after RoPE) to the fp16 cache at `position`.
//   k, v fp32 [nKvHeads][headDim]; kCache, vCache fp16 [nKvHeads][maxSeq][headDim];
//   position int[1] on the device; positions outside [0, maxSeq) are ignored (the host checks
//   them before it launches, so this only guards memory).
// grid: nKvHeads, block: headDim.
extern "C" __global__ void qs_kv_append_f16(const float* __restrict__ k, const float* __restrict__ v,
                                            __half* __restrict__ kCache, __half* __restrict__ vCache,
                                            const int* __restrict__ position, int headDim,
                                            int maxSeq) {
    qs_wait_prior_grid();
    const int pos = *position;
    const int head = blockIdx.x;
    const int d = threadIdx.x;
    if (pos < 0 || pos >= maxSeq || d >= headDim) return;
    const size_t dst = ((size_t)head * maxSeq + pos) * headDim + d;
    kCache[dst] = __float2half_rn(k[head * headDim + d]);
    vCache[dst] = __float2half_rn(v[head * headDim + d]);
}

// qs_rope then qs_kv_append_f16 in one kernel (the decode step's pair): q and k rotated in place by
// qs_rope_rotate, and each k head's thread writes its two rotated values, and the two v values of the
// same indices, to the cache row `position` with the __float2half_rn of qs_kv_append_f16, so cache, q
// and k hold the bits the two kernels leave. A position outside [0, maxSeq) still rotates and appends
// nothing (as the pair does).
//   q fp32 [nHeads][headDim], k, v fp32 [nKvHeads][headDim], invFreq fp32 [headDim/2], position int[1],
//   kCache, vCache fp16 [nKvHeads][maxSeq][headDim].
// grid: nHeads + nKvHeads (one head per block), block: headDim/2 rounded up to 32.
extern "C" __global__ void qs_rope_kv_append_f16(float* __restrict__ q, float* __restrict__ k,
                                                 const float* __restrict__ v, const float* __restrict__ invFreq,
                                                 const int* __restrict__ position, __half* __restrict__ kCache,
                                                 __half* __restrict__ vCache, int nHeads, int headDim,
                                                 int maxSeq) {
    qs_wait_prior_grid();
    const int head = blockIdx.x;
    const int half = headDim >> 1;
    const int i = threadIdx.x;
    if (i >= half) return;
    const int pos = *position;
    const int kvHead = head - nHeads;  // negative for a query head
    float* h = kvHead < 0 ? q + (size_t)head * headDim : k + (size_t)kvHead * headDim;
    qs_rope_rotate(h, invFreq, pos, i, half);  // one call site: one inlined sincosf, no stack frame
    if (kvHead < 0 || pos < 0 || pos >= maxSeq) return;
    const float* kh = h;
    const float* vh = v + (size_t)kvHead * headDim;
    const size_t dst = ((size_t)kvHead * maxSeq + pos) * headDim;
    kCache[dst + i] = __float2half_rn(kh[i]);
    kCache[dst + i + half] = __float2half_rn(kh[i + half]);
    vCache[dst + i] = __float2half_rn(vh[i]);
    vCache[dst + i + half] = __float2half_rn(vh[i + half]);
}

// Index of the largest value (the first one on ties, like the CPU backend); NaNs are ignored and
// -1 is written when there is no number at all.
//   x fp32 [n], out int[1]. grid: 1, block: ARGMAX_THREADS.
constexpr int ARGMAX_THREADS = 1024;

__device__ __forceinline__ void qs_argmax_pick(float& best, int& bestIdx, float v, int idx) {
    // idx == -1 marks "nothing yet"; a smaller index wins a tie so the result is the first maximum.
    if (idx >= 0 && (bestIdx < 0 || v > best || (v == best && idx < bestIdx))) {
        best = v;
        bestIdx = idx;
    }
}

// The block's work, shared by qs_argmax and qs_argmax_rows (one row per block).
__device__ __forceinline__ void qs_argmax_block(const float* __restrict__ x, int n, int* __restrict__ out) {
    __shared__ float bestVal[ARGMAX_THREADS / 32];
    __shared__ int bestIdxs[ARGMAX_THREADS / 32];
    float best = 0.0f;
    int bestIdx = -1;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = x[i];
        if (!isnan(v)) qs_argmax_pick(best, bestIdx, v, i);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float v = __shfl_xor_sync(QS_FULL_MASK, best, offset);
        const int idx = __shfl_xor_sync(QS_FULL_MASK, bestIdx, offset);
        qs_argmax_pick(best, bestIdx, v, idx);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        bestVal[warp] = best;
        bestIdxs[warp] = bestIdx;
    }
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        best = lane < warps ? bestVal[lane] : 0.0f;
        bestIdx = lane < warps ? bestIdxs[lane] : -1;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) {
            const float v = __shfl_xor_sync(QS_FULL_MASK, best, offset);
            const int idx = __shfl_xor_sync(QS_FULL_MASK, bestIdx, offset);
            qs_argmax_pick(best, bestIdx, v, idx);
        }
        if (lane == 0) *out = bestIdx;
    }
}

extern "C" __global__ void __launch_bounds__(ARGMAX_THREADS)
    qs_argmax(const float* __restrict__ x, int n, int* __restrict__ out) {
    qs_wait_prior_grid();
    qs_argmax_block(x, n, out);
}

// Benchmark ("dummy") weights and caches: out[i] = offset + scale * u(seed, i), u uniform in
// [-1, 1) from an integer hash of (seed, i), so a 7B-shape model is filled on the device in
// milliseconds instead of uploading gigabytes, and the values are reproducible.
//   out bf16 or fp16 [n]. grid-stride: any grid and block.
__device__ __forceinline__ float qs_hash_uniform(unsigned long long seed, unsigned long long i) {
    unsigned long long z = seed * 0x9E3779B97F4A7C15ull + i;  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (2.0f / 16777216.0f) - 1.0f;  // 24 random bits
}

extern "C" __global__ void qs_fill_random_bf16(__nv_bfloat16* __restrict__ out, long long n,
                                               unsigned long long seed, float offset, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = __float2bfloat16(offset + scale * qs_hash_uniform(seed, (unsigned long long)i));
    }
}

extern "C" __global__ void qs_fill_random_f16(__half* __restrict__ out, long long n,
                                              unsigned long long seed, float offset, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = __float2half(offset + scale * qs_hash_uniform(seed, (unsigned long long)i));
    }
}

// Keeps the stream busy for about `ns` nanoseconds (LaunchProfile: the launches queued behind it are timed
// back to back on the GPU, not at the pace of the host that enqueues them). One thread is enough.
extern "C" __global__ void qs_spin(unsigned long long ns) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        __nanosleep(1000);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while (t - t0 < ns);
}
