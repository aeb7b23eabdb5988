// The kernels and helpers the two round-5 drivers share (gemv_round5.cu: the draft-layer chain with prefetch plans;
// gemv_round5b.cu: each GEMV alone, cold / loaded into L2 / bulk-prefetched). Build: build5.sh
#pragma once
#include "q4gemv.cuh"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <vector>
#include <string>
#include <algorithm>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("CUDA %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); exit(1); } } while (0)

__device__ __forceinline__ unsigned long long gtime() {
    unsigned long long t; asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t)); return t;
}
// stamp[0] = min start, stamp[1] = max end (ns)
__device__ __forceinline__ void stampStart(unsigned long long* s, unsigned long long t) { if (s && threadIdx.x == 0) atomicMin(s, t); }
__device__ __forceinline__ void stampEnd(unsigned long long* s) {
    if (s) { __syncthreads(); if (threadIdx.x == 0) { __threadfence(); atomicMax(s + 1, gtime()); } }
}

typedef void (*GFn)(const uint8_t*, const __half2*, const float*, const __nv_bfloat16*, float, float*, int, int, int, int, int,
                    const void*, long long, const void*, long long, unsigned long long*);
template <int R, bool PF, int OM, int XM, int AT, int HINT>
__global__ void __launch_bounds__(256) kg(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,
                                          const float* __restrict__ x, const __nv_bfloat16* __restrict__ nw, float eps,
                                          float* __restrict__ out, int rows, int cols, int rs, int gpr, int ppg,
                                          const void* l2a, long long l2aB, const void* l2b, long long l2bB,
                                          unsigned long long* stamp) {
    const unsigned long long t0 = gtime();
    stampStart(stamp, t0);
    qs_q4_gemv_h2_body<256, R, 2, PF, OM, XM, false, AT, HINT>(codes, params, x, out, rows, cols, rs, gpr, ppg, nw, eps,
                                                               QsQ4Rope{}, l2a, l2aB, l2b, l2bB);
    stampEnd(stamp);
}
// slot kernels per (AT, HINT): [0] qkv norm R4, [1] o acc R2 PF, [2] gate/up norm_swiglu R4, [3] down acc R2 PF
#define SLOTS(AT, H) {kg<4, false, QS_Q4_OUT_STORE, QS_Q4_X_NORM, AT, H>, kg<2, true, QS_Q4_OUT_ACC, QS_Q4_X_PLAIN, AT, H>, \
                      kg<4, false, QS_Q4_OUT_SWIGLU, QS_Q4_X_NORM, AT, H>, kg<2, true, QS_Q4_OUT_ACC, QS_Q4_X_PLAIN, AT, H>}
static GFn kset[4][3][4] = {  // [AT][HINT][slot]
    {SLOTS(0, 0), SLOTS(0, 0), SLOTS(0, 0)},
    {SLOTS(1, 0), SLOTS(1, 1), SLOTS(1, 2)},
    {SLOTS(2, 0), SLOTS(2, 1), SLOTS(2, 2)},
    {SLOTS(3, 0), SLOTS(3, 1), SLOTS(3, 2)},
};

template <int HINT>
__global__ void rope_standin(const float* __restrict__ qkv, float* __restrict__ qr, int dim, const void* l2a, long long l2aB,
                             const void* l2b, long long l2bB, unsigned long long* stamp) {
    stampStart(stamp, gtime());
    qs_l2_prefetch_slice<HINT>(l2a, l2aB); qs_l2_prefetch_slice<HINT>(l2b, l2bB);
    qs_wait_prior_grid();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < dim; i += gridDim.x * blockDim.x) qr[i] = 1.25f * qkv[i];
    stampEnd(stamp);
}
// streams n uint4 of kv with __ldcs (EF: ld.global.L1::no_allocate.L2::cache_hint with an evict_first policy)
template <bool EF>
__global__ void __launch_bounds__(512) attn_standin(const uint4* __restrict__ kv, long long n, const float* __restrict__ qr,
                                                    unsigned* __restrict__ part, unsigned long long* stamp) {
    stampStart(stamp, gtime());
    qs_wait_prior_grid();
    uint32_t acc = __float_as_uint(qr[blockIdx.x & 63]);
    uint64_t pol = 0;
    if (EF) asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 v[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            if (EF) asm volatile("ld.global.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                                 : "=r"(v[k].x), "=r"(v[k].y), "=r"(v[k].z), "=r"(v[k].w) : "l"(kv + i + k * stride), "l"(pol));
            else v[k] = __ldcs(kv + i + k * stride);
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) acc ^= v[k].x + v[k].y * 3 + v[k].z * 5 + v[k].w * 7;
    }
    for (; i < n; i += stride) { uint4 v = __ldcs(kv + i); acc ^= v.x + v.y * 3 + v.z * 5 + v.w * 7; }
    acc = __reduce_xor_sync(QS_FULL_MASK, acc);
    if ((threadIdx.x & 31) == 0) atomicXor(part + blockIdx.x % 64, acc);
    stampEnd(stamp);
}
template <int HINT>
__global__ void combine_standin(const float* __restrict__ qr, const float* __restrict__ qkv, const unsigned* __restrict__ part,
                                float* __restrict__ att, int dim, int qkvRows, const void* l2a, long long l2aB, const void* l2b,
                                long long l2bB, unsigned long long* stamp) {
    stampStart(stamp, gtime());
    qs_l2_prefetch_slice<HINT>(l2a, l2aB); qs_l2_prefetch_slice<HINT>(l2b, l2bB);
    qs_wait_prior_grid();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < dim; i += gridDim.x * blockDim.x)
        att[i] = 0.01f * qr[i] + 0.001f * qkv[qkvRows - 1 - i] + 0.0f * (float)(part[i & 63] & 1);
    stampEnd(stamp);
}
__global__ void fill_u32(uint32_t* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15; h *= 0x27d4eb2du; h ^= h >> 16;
        p[i] = h;
    }
}
__global__ void fill_params(__half2* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        float a = (h & 0xffff) / 65536.0f, b = (h >> 16) / 65536.0f;
        p[i] = __floats2half2_rn(0.001f + 0.02f * a, -0.15f * b);
    }
}
__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = __float2bfloat16(0.5f + (h & 0xffff) / 65536.0f);
    }
}

static cudaStream_t st;
static cudaEvent_t e0, e1;
template <class K, class... A> static void launch(K kernel, int grid, int block, A... args) {
    cudaLaunchConfig_t c = {};
    c.gridDim = dim3(grid); c.blockDim = dim3(block); c.dynamicSmemBytes = 0; c.stream = st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; at[0].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at; c.numAttrs = 1;
    CK(cudaLaunchKernelEx(&c, kernel, args...));
}
template <class F> static float timeit(F f, int iters) {
    for (int i = 0; i < 3; ++i) f(i);
    CK(cudaEventRecord(e0, st));
    for (int i = 0; i < iters; ++i) f(i);
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); CK(cudaGetLastError());
    return ms * 1000.0f / iters;
}

struct Mat { uint8_t* c; __half2* p; int rows, cols, rs, gpr; size_t cb() const { return (size_t)rows * rs; } size_t pb() const { return (size_t)rows * gpr * 4; } };
static Mat makeMat(int rows, int cols, uint32_t seed) {
    Mat m; m.rows = rows; m.cols = cols; m.rs = (cols + 31) / 32 * 16; m.gpr = (cols + 127) / 128;
    CK(cudaMalloc(&m.c, m.cb())); CK(cudaMalloc(&m.p, m.pb()));
    fill_u32<<<2048, 256>>>((uint32_t*)m.c, m.cb() / 4, seed);
    fill_params<<<2048, 256>>>(m.p, (size_t)rows * m.gpr, seed * 7 + 1);
    return m;
