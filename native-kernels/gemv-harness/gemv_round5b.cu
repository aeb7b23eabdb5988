// 4-bit GEMV round 5, run 2 (the diagnostic behind the L2 prefetch chain of gemv_round5.cu): does a GEMV of the
// draft layer get faster when its weights are already in L2, and does a bulk L2 prefetch put them there and keep them
// through an evict-first stream? Each of the four GEMVs alone (plain launches, no PDL), span from its first block's
// start to its last block's end (globaltimer), median over 8 distinct matrices x 3 (modes listed above main).
// Kernels and helpers as gemv_round5.cu (copied, so each file builds alone). Build: build5.sh
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
}


// ---- round 5b: does a GEMV get faster when its weights are in L2? Per slot, one kernel alone (plain launches, no
// PDL), span from its first block's start to its last block's end (globaltimer), median over 8 matrices x 3:
//   cold         after a 256 MB flush (normal loads of other data)
//   loaded       flush, then a kernel reads the matrix with normal loads (ld.global), then the GEMV
//   prefetched   flush, the matrix bulk-prefetched (cp.async.bulk.prefetch.L2, grid 264), a 40 us spin, the GEMV
//   pf-evictlast the same with an L2::evict_last policy
//   pf+stream48  prefetched, then 48 MB of other data streamed with __ldcs (a gate/up-sized stream), then the GEMV
//   pf+stream570 prefetched, then 570 MB streamed with __ldcs (the 128K attention), then the GEMV
__global__ void readall(const uint4* __restrict__ p, long long n, unsigned* sink) {
    uint32_t acc = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        uint4 v = p[i]; acc ^= v.x + v.y + v.z + v.w;
    }
    if (acc == 0x9e3779b9u) atomicAdd(sink, 1u);
}
template <int HINT>
__global__ void pfkernel(const void* a, long long ab, const void* b, long long bb) {
    qs_l2_prefetch_slice<HINT>(a, ab); qs_l2_prefetch_slice<HINT>(b, bb);
}
__global__ void spin(unsigned ns) { const unsigned long long t = gtime(); while (gtime() - t < ns) {} }

int main() {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    const int dim = 4096, qkvR = 12288, ffn = 11008, NM = 8;
    std::vector<Mat> W[4];
    for (int l = 0; l < NM; ++l) {
        W[0].push_back(makeMat(qkvR, dim, 100 + l)); W[1].push_back(makeMat(dim, dim, 200 + l));
        W[2].push_back(makeMat(2 * ffn, dim, 300 + l)); W[3].push_back(makeMat(dim, ffn, 400 + l));
    }
    const size_t kvMax = 600ull << 20;
    uint4* kv; CK(cudaMalloc(&kv, kvMax)); fill_u32<<<4096, 256>>>((uint32_t*)kv, kvMax / 4, 77);
    float *x, *out; __nv_bfloat16* nw; unsigned *sink, *part; unsigned long long* stamp;
    CK(cudaMalloc(&x, ffn * 4)); CK(cudaMalloc(&out, 2 * ffn * 4)); CK(cudaMalloc(&nw, dim * 2)); CK(cudaMalloc(&sink, 4));
    CK(cudaMalloc(&part, 256)); CK(cudaMalloc(&stamp, 16));
    fill_bf16<<<16, 256>>>(nw, dim, 5);
    CK(cudaMemcpy(x, std::vector<float>(ffn, 0.1f).data(), ffn * 4, cudaMemcpyHostToDevice));
    CK(cudaDeviceSynchronize());
    const char* sn[4] = {"qkv _norm 12288x4096", "o _acc 4096x4096", "gate/up _norm_swiglu 22016x4096", "down _acc 4096x11008"};
    const char* mn[7] = {"cold", "loaded", "prefetched", "pf-evictlast", "pf+stream48", "pf+stream570", "pf-start-in-gemv"};
    for (int s = 0; s < 4; ++s) {
        printf("%-32s (%.1f MB):", sn[s], (W[s][0].cb() + W[s][0].pb()) / 1e6);
        for (int mode = 0; mode < 7; ++mode) {
            std::vector<double> t;
            for (int rep = 0; rep < 3; ++rep)
                for (int i = 0; i < NM; ++i) {
                    const Mat& m = W[s][i];
                    readall<<<528, 512, 0, st>>>(kv, (256ll << 20) / 16, sink);  // flush
                    if (mode == 1) { readall<<<528, 512, 0, st>>>((const uint4*)m.c, m.cb() / 16, sink); readall<<<528, 512, 0, st>>>((const uint4*)m.p, m.pb() / 16, sink); }
                    if (mode == 2 || mode >= 4 && mode <= 5) pfkernel<0><<<264, 256, 0, st>>>(m.c, m.cb(), m.p, m.pb());
                    if (mode == 3) pfkernel<1><<<264, 256, 0, st>>>(m.c, m.cb(), m.p, m.pb());
                    spin<<<1, 32, 0, st>>>(40000);
                    if (mode == 4) attn_standin<false><<<528, 512, 0, st>>>(kv + (300ll << 20) / 16, (48ll << 20) / 16, x, part, nullptr);
                    if (mode == 5) attn_standin<false><<<528, 512, 0, st>>>(kv, (570ll << 20) / 16, x, part, nullptr);
                    unsigned long long h[2] = {~0ull, 0};
                    CK(cudaMemcpyAsync(stamp, h, 16, cudaMemcpyHostToDevice, st));
                    const int r = s == 0 || s == 2 ? 4 : 2;
                    const int grid = s == 2 ? (m.rows / 2 + 8 * (r / 2) - 1) / (8 * (r / 2)) : (m.rows + 8 * r - 1) / (8 * r);
                    // mode 6: the GEMV itself prefetches its own whole matrix at its start (AT 1), spread over its blocks
                    const int at = mode == 6 ? 1 : 0;
                    kset[at][0][s]<<<grid, 256, 0, st>>>(m.c, m.p, x, nw, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4,
                                                         mode == 6 ? (const void*)m.c : nullptr, (long long)m.cb(),
                                                         mode == 6 ? (const void*)m.p : nullptr, (long long)m.pb(), stamp);
                    CK(cudaMemcpyAsync(h, stamp, 16, cudaMemcpyDeviceToHost, st));
                    CK(cudaStreamSynchronize(st));
                    t.push_back((h[1] - h[0]) / 1e3);
                }
            std::sort(t.begin(), t.end());
            printf("  %s %.2f", mn[mode], t[t.size() / 2]);
        }
        printf("  (us)\n");
    }
    CK(cudaGetLastError());
    printf("round5b done\n");
    return 0;
}
