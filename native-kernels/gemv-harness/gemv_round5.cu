// 4-bit GEMV round 5: an L2 prefetch chain. While one kernel of the draft layer runs, its blocks issue
// fire-and-forget L2 prefetches (cp.async.bulk.prefetch.L2, or prefetch.global.L2::evict_last per line) of the
// NEXT GEMV's weights, so that GEMV reads (part of) them from L2 and DRAM stays busy across kernel boundaries.
// Built against the CURRENT engine headers (half2 params): build5.sh copies native-kernels/src/main/cuda and patches
// q4gemv.cuh with patch_l2pf.py (qs_l2_prefetch_slice, the body's L2AT / L2HINT template arguments and l2a / l2b
// ranges; harness only: the prefetch lost, bench-results/h200-2026-11-29-gemv-round5.md).
// Chain per layer (32 layers, distinct weights, one CUDA graph, every launch with programmatic serialization):
//   qkv  h2 R4 U2 _norm            (12288 x 4096)
//   rope stand-in (1 block)        [may prefetch o]
//   attention stand-in: streams KV bytes with __ldcs (none / 36 MB "8K" / 570 MB "128K"), grid 132 x 4
//   combine stand-in (16 blocks)   [may prefetch o]
//   o    h2 R2 U2 PF _acc          (4096 x 4096)
//   gate/up h2 R4 U2 _norm_swiglu  (22016 x 4096)
//   down h2 R2 U2 PF _acc          (4096 x 11008)
// Plans name which kernel prefetches what (fractions of the next matrix's codes and params, a prefix: the rows
// the next kernel's first blocks read). Every plan's final x must be bitwise the no-prefetch chain's.
// Also a timeline per plan (globaltimer stamps per launch: first block start, last block end) to split the layer.
// Build: native-kernels/gemv-harness/build5.sh
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

// a plan: per slot (0 qkv, 1 o, 2 gate/up, 3 down, 4 rope, 5 combine) the fraction of its NEXT matrix to prefetch
// (qkv -> o, o -> gate/up, gate/up -> down, down -> next layer's qkv (none after the last layer), rope / combine -> o)
struct Plan { const char* name; int at, hint; float f[6]; bool entries; };
static const Plan plans[] = {
    {"ENTRIES (engine kernels, no prefetch)", 0, 0, {0, 0, 0, 0, 0, 0}, true},
    {"base (harness kernels, no prefetch)", 0, 0, {0, 0, 0, 0, 0, 0}, false},
    {"A: gu->down, down->qkv', qkv->o @first-loads", 2, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A @block-start", 1, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A @block-end", 3, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A evict_last bulk", 2, 1, {1, 0, 1, 1, 0, 0}, false},
    {"A evict_last per-line", 2, 2, {1, 0, 1, 1, 0, 0}, false},
    {"A 1/2 prefix", 2, 0, {0.5f, 0, 0.5f, 0.5f, 0, 0}, false},
    {"A 1/4 prefix", 2, 0, {0.25f, 0, 0.25f, 0.25f, 0, 0}, false},
    {"A 1/8 prefix", 2, 0, {0.125f, 0, 0.125f, 0.125f, 0, 0}, false},
    {"only gu->down", 2, 0, {0, 0, 1, 0, 0, 0}, false},
    {"only down->qkv'", 2, 0, {0, 0, 0, 1, 0, 0}, false},
    {"only qkv->o", 2, 0, {1, 0, 0, 0, 0, 0}, false},
    {"only rope->o", 2, 0, {0, 0, 0, 0, 1, 0}, false},
    {"only combine->o", 2, 0, {0, 0, 0, 0, 0, 1}, false},
    {"gu->down, down->qkv', combine->o", 2, 0, {0, 0, 1, 1, 0, 1}, false},
    {"only o->gu 1/4", 2, 0, {0, 0.25f, 0, 0, 0, 0}, false},
    {"A + o->gu 1/4", 2, 0, {1, 0.25f, 1, 1, 0, 0}, false},
    {"A + o->gu 1/2", 2, 0, {1, 0.5f, 1, 1, 0, 0}, false},
    {"A + o->gu 1/4 @block-end", 3, 0, {1, 0.25f, 1, 1, 0, 0}, false},
};
static const int NPLAN = sizeof(plans) / sizeof(plans[0]);

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    const int reps = argc > 1 ? atoi(argv[1]) : 3;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs, L2 %d MB, persisting L2 max %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20,
           prop.persistingL2CacheMaxSize >> 20);
    {
        cudaFuncAttributes a;
        for (int at = 0; at < 4; ++at) for (int s = 0; s < 4; ++s) {
            CK(cudaFuncGetAttributes(&a, (const void*)kset[at][at ? 1 : 0][s]));
            int b; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, (const void*)kset[at][0][s], 256, 0));
            printf("AT %d slot %d: regs %d, blocks/SM %d\n", at, s, a.numRegs, b);
        }
    }
    double copyGBs;
    {
        void* a; size_t n = 1000ull << 20; CK(cudaMalloc(&a, 2 * n));
        float us = timeit([&](int) { CK(cudaMemcpyAsync((char*)a + n, a, n, cudaMemcpyDeviceToDevice, st)); }, 10);
        copyGBs = 2.0 * n / us / 1e3;
        printf("D2D copy 1000 MiB: %.1f us, %.0f GB/s (read+write)\n", us, copyGBs);
        CK(cudaFree(a));
    }
    const int layers = 32, dim = 4096, qkvR = 12288, ffn = 11008;
    std::vector<Mat> W[4];
    std::vector<__nv_bfloat16*> n1, n2;
    for (int l = 0; l < layers; ++l) {
        W[0].push_back(makeMat(qkvR, dim, 100 + l)); W[1].push_back(makeMat(dim, dim, 200 + l));
        W[2].push_back(makeMat(2 * ffn, dim, 300 + l)); W[3].push_back(makeMat(dim, ffn, 400 + l));
        __nv_bfloat16 *a, *b; CK(cudaMalloc(&a, dim * 2)); CK(cudaMalloc(&b, dim * 2));
        fill_bf16<<<16, 256>>>(a, dim, 500 + l); fill_bf16<<<16, 256>>>(b, dim, 600 + l); n1.push_back(a); n2.push_back(b);
    }
    const size_t kvMax = 600ull << 20;
    uint4* kv; CK(cudaMalloc(&kv, kvMax)); fill_u32<<<4096, 256>>>((uint32_t*)kv, kvMax / 4, 77);
    float *x, *qkv, *qr, *att, *hid; unsigned* part; unsigned long long* stamps;
    CK(cudaMalloc(&x, dim * 4)); CK(cudaMalloc(&qkv, qkvR * 4)); CK(cudaMalloc(&qr, dim * 4)); CK(cudaMalloc(&att, dim * 4));
    CK(cudaMalloc(&hid, ffn * 4)); CK(cudaMalloc(&part, 64 * 4)); CK(cudaMemset(part, 0, 256));
    const int NST = layers * 7;
    CK(cudaMalloc(&stamps, NST * 16));
    std::vector<float> hx(dim);
    { uint32_t s = 7; for (auto& v : hx) { s = s * 1664525u + 1013904223u; v = ((s >> 8) / 16777216.0f) * 2 - 1; } }
    CK(cudaMemcpy(hid, std::vector<float>(ffn, 0.1f).data(), ffn * 4, cudaMemcpyHostToDevice));
    CK(cudaDeviceSynchronize());
    const double layerMB = (W[0][0].cb() + W[0][0].pb() + W[1][0].cb() + W[1][0].pb() + W[2][0].cb() + W[2][0].pb() + W[3][0].cb() + W[3][0].pb()) / 1e6;
    printf("weights per layer %.1f MB (qkv %.1f, o %.1f, gate/up %.1f, down %.1f)\n", layerMB, (W[0][0].cb() + W[0][0].pb()) / 1e6,
           (W[1][0].cb() + W[1][0].pb()) / 1e6, (W[2][0].cb() + W[2][0].pb()) / 1e6, (W[3][0].cb() + W[3][0].pb()) / 1e6);

    struct Mode { const char* name; long long kvBytes; bool ef; };
    const Mode modes[] = {{"no-attn", 0, false}, {"8K-like (36 MB)", 36ll << 20, false}, {"128K-like (570 MB)", 570ll << 20, false},
                          {"128K-like EF", 570ll << 20, true}};
    bool allOk = true;
    auto gemv = [&](const Plan& p, int slot, const Mat& m, const float* in, const __nv_bfloat16* w, float* out, const Mat* next,
                    unsigned long long* stamp) {
        const float f = p.f[slot];
        const void* a = next && f > 0 ? (const void*)next->c : nullptr; const void* b = next && f > 0 ? (const void*)next->p : nullptr;
        const long long ab = next && f > 0 ? (long long)(f * next->cb()) : 0, bb = next && f > 0 ? (long long)(f * next->pb()) : 0;
        const int r = slot == 0 || slot == 2 ? 4 : 2;
        const int grid = slot == 2 ? (m.rows / 2 + 8 * (r / 2) - 1) / (8 * (r / 2)) : (m.rows + 8 * r - 1) / (8 * r);
        if (p.entries) {
            if (slot == 0) launch(qs_q4_gemv_h2_r4u2_norm, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4);
            else if (slot == 2) launch(qs_q4_gemv_h2_r4u2_norm_swiglu, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4);
            else launch(qs_q4_gemv_h2_r2u2p_acc, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, out, m.rows, m.cols, m.rs, m.gpr, 4);
            return;
        }
        launch(kset[p.at][p.hint][slot], grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs,
               m.gpr, 4, a, ab, b, bb, stamp);
    };
    auto chain = [&](const Plan& p, const Mode& md, bool stamp) {
        for (int l = 0; l < layers; ++l) {
            unsigned long long* s = stamp ? stamps + l * 14 : nullptr;
            auto S = [&](int k) { return s ? s + 2 * k : nullptr; };
            gemv(p, 0, W[0][l], x, n1[l], qkv, &W[1][l], S(0));
            const Mat& o = W[1][l];
            const float fr = p.f[4], fc = p.f[5];
            if (p.hint == 1) launch(rope_standin<1>, 1, 256, (const float*)qkv, qr, dim, fr > 0 ? (const void*)o.c : nullptr, (long long)(fr * o.cb()), fr > 0 ? (const void*)o.p : nullptr, (long long)(fr * o.pb()), S(1));
            else launch(rope_standin<0>, 1, 256, (const float*)qkv, qr, dim, fr > 0 ? (const void*)o.c : nullptr, (long long)(fr * o.cb()), fr > 0 ? (const void*)o.p : nullptr, (long long)(fr * o.pb()), S(1));
            if (md.kvBytes) {
                if (md.ef) launch(attn_standin<true>, 132 * 4, 512, (const uint4*)kv, md.kvBytes / 16, (const float*)qr, part, S(2));
                else launch(attn_standin<false>, 132 * 4, 512, (const uint4*)kv, md.kvBytes / 16, (const float*)qr, part, S(2));
            }
            launch(combine_standin<0>, 16, 256, (const float*)qr, (const float*)qkv, (const unsigned*)part, att, dim, qkvR, fc > 0 ? (const void*)o.c : nullptr,
                   (long long)(fc * o.cb()), fc > 0 ? (const void*)o.p : nullptr, (long long)(fc * o.pb()), S(3));
            gemv(p, 1, W[1][l], att, nullptr, x, &W[2][l], S(4));
            gemv(p, 2, W[2][l], x, n2[l], hid, &W[3][l], S(5));
            gemv(p, 3, W[3][l], hid, nullptr, x, l + 1 < layers ? &W[0][l + 1] : nullptr, S(6));
        }
    };
    for (const Mode& md : modes) {
        printf("\n==== %s: 32 layers, us per layer (min / median / max of %d reps, 20 graph replays each), final x vs no-prefetch\n", md.name, reps);
        std::vector<float> xRef;
        std::vector<std::vector<float>> t(NPLAN);
        std::vector<cudaGraphExec_t> ge(NPLAN), geS(NPLAN);
        for (int pi = 0; pi < NPLAN; ++pi) {
            for (int k = 0; k < 2; ++k) {
                cudaGraph_t g;
                CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
                chain(plans[pi], md, k == 1);
                CK(cudaStreamEndCapture(st, &g));
                CK(cudaGraphInstantiate(k ? &geS[pi] : &ge[pi], g, 0)); CK(cudaGraphDestroy(g));
            }
        }
        bool modeOk = true;
        for (int pi = 0; pi < NPLAN; ++pi) {  // correctness: two replays bitwise, and bitwise the no-prefetch chain
            std::vector<float> xa(dim), xb(dim);
            CK(cudaMemset(part, 0, 256));
            CK(cudaMemcpy(x, hx.data(), dim * 4, cudaMemcpyHostToDevice)); CK(cudaGraphLaunch(ge[pi], st)); CK(cudaStreamSynchronize(st));
            CK(cudaMemcpy(xa.data(), x, dim * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemset(part, 0, 256));
            CK(cudaMemcpy(x, hx.data(), dim * 4, cudaMemcpyHostToDevice)); CK(cudaGraphLaunch(ge[pi], st)); CK(cudaStreamSynchronize(st));
            CK(cudaMemcpy(xb.data(), x, dim * 4, cudaMemcpyDeviceToHost));
            if (pi == 0) xRef = xa;
            const bool ok = memcmp(xa.data(), xb.data(), dim * 4) == 0 && memcmp(xa.data(), xRef.data(), dim * 4) == 0;
            bool finite = true; for (float v : xa) finite &= std::isfinite(v);
            if (!ok || !finite) { printf("   plan %s: NOT bitwise (%s)  <-- FAIL\n", plans[pi].name, finite ? "finite" : "non-finite"); modeOk = false; }
        }
        allOk &= modeOk;
        for (int r = 0; r < reps; ++r)
            for (int pi = 0; pi < NPLAN; ++pi) t[pi].push_back(timeit([&](int) { CK(cudaGraphLaunch(ge[pi], st)); }, 20) / layers);
        // timeline (one replay with stamps, after a warm replay): per launch the end minus the previous launch's end
        const char* kn[7] = {"qkv", "rope", "attn", "comb", "o", "gu", "down"};
        float base = 0;
        for (int pi = 0; pi < NPLAN; ++pi) {
            std::sort(t[pi].begin(), t[pi].end());
            const float med = t[pi][t[pi].size() / 2];
            if (pi == 1) base = med;
            double inc[7] = {0}; double span[7] = {0};
            if (!plans[pi].entries) {
                CK(cudaGraphLaunch(geS[pi], st));
                std::vector<unsigned long long> h(NST * 2);
                for (int l = 0; l < NST; ++l) { h[2 * l] = ~0ull; h[2 * l + 1] = 0; }
                CK(cudaMemcpyAsync(stamps, h.data(), NST * 16, cudaMemcpyHostToDevice, st));
                CK(cudaGraphLaunch(geS[pi], st)); CK(cudaStreamSynchronize(st));
                CK(cudaMemcpy(h.data(), stamps, NST * 16, cudaMemcpyDeviceToHost));
                int nl = 0;
                for (int l = 1; l < layers; ++l, ++nl) {  // layers 1..31 (the previous launch is the last one before)
                    unsigned long long prevEnd = h[(l - 1) * 14 + 6 * 2 + 1];
                    for (int k = 0; k < 7; ++k) {
                        const unsigned long long* s = &h[l * 14 + 2 * k];
                        if (s[1] == 0) continue;  // absent (no attention)
                        inc[k] += (double)(s[1] - prevEnd) / 1e3; span[k] += (double)(s[1] - s[0]) / 1e3; prevEnd = s[1];
                    }
                }
                for (int k = 0; k < 7; ++k) { inc[k] /= nl; span[k] /= nl; }
            }
            printf("%-46s %7.2f %7.2f %7.2f  %+6.2f%% vs base |", plans[pi].name, t[pi][0], med, t[pi].back(), base > 0 ? 100 * (med - base) / base : 0.0);
            if (!plans[pi].entries) for (int k = 0; k < 7; ++k) if (k != 1 && k != 3 && (k != 2 || md.kvBytes)) printf(" %s %.1f", kn[k], inc[k]);
            if (!plans[pi].entries) printf(" | rope+comb %.1f", inc[1] + inc[3]);
            printf("\n");
        }
        printf("%s: correctness %s\n", md.name, modeOk ? "ALL BITWISE" : "FAIL");
        for (int pi = 0; pi < NPLAN; ++pi) { CK(cudaGraphExecDestroy(ge[pi])); CK(cudaGraphExecDestroy(geS[pi])); }
    }
    printf("\nround5 correctness: %s\n", allOk ? "ALL OK" : "FAIL");
    return allOk ? 0 : 1;
}
