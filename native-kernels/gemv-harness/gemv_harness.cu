// Standalone timing/correctness harness for the decoder's GEMVs (2026-11-29 tuning):
//   bf16 multi-vector GEMV qs_gemv_bf16_multi_body<NV, R, U> (gemv.cuh) at N = 1, 2, 5 against the
//   single-vector kernels, with bitwise checks out[j] == r1(x[j]) and a double reference;
//   4-bit GEMV: the old qs_q4_prepare_x + qs_q4_gemv against qs_q4_gemv_fused_body<T, R, U> (q4gemv.cuh),
//   with a double reference and the PassKernelsGpuTest bound (96 u B).
// Weights rotate over a pool so that no launch finds its matrix in the 50 MB L2.
// Build: native-kernels/gemv-harness/build.sh; run: gemv_harness [quick]
#include "../src/main/cuda/gemv.cuh"
#include "../src/main/cuda/q4gemv.cuh"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <vector>
#include <string>
#include <algorithm>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("CUDA %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); exit(1); } } while (0)

typedef void (*Bf16Fn)(const __nv_bfloat16*, const float*, float*, int, int);
template <int NV, int R, int U>
__global__ void __launch_bounds__(GEMV_THREADS) hm(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                   float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_multi_body<NV, R, U>(W, x, out, rows, cols);
}
template <int NV, int R, int U>
__global__ void __launch_bounds__(GEMV_THREADS) hs(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                   float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_smem_body<NV, R, U>(W, x, out, rows, cols);
}
template <int T, int R, int U>
__global__ void __launch_bounds__(T) hqs(const uint8_t* __restrict__ codes, const float2* __restrict__ params,
                                         const float* __restrict__ x, float* __restrict__ out, int rows, int cols,
                                         int rowStride, int groupsPerRow, int ppg) {
    qs_q4_gemv_smem_body<T, R, U>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, ppg);
}
typedef void (*Q4Fn)(const uint8_t*, const float2*, const float*, float*, int, int, int, int, int);
template <int T, int R, int U>
__global__ void __launch_bounds__(T) hq(const uint8_t* __restrict__ codes, const float2* __restrict__ params,
                                        const float* __restrict__ x, float* __restrict__ out, int rows, int cols,
                                        int rowStride, int groupsPerRow, int ppg) {
    qs_q4_gemv_fused_body<T, R, U>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, ppg);
}

struct MV { int nv, r, u; Bf16Fn fn; const char* tag; };
#define M(NV, R, U, TAG) {NV, R, U, hm<NV, R, U>, TAG}
#define S(NV, R, U) {NV, R, U, hs<NV, R, U>, "smem"}
static MV multis[] = {
    M(1, 1, 4, ""), M(1, 2, 4, "old n1"), M(1, 4, 2, ""), S(1, 1, 4), S(1, 2, 4), S(1, 4, 2), S(1, 1, 8),
    M(2, 2, 4, "old n2"), M(2, 4, 4, ""), S(2, 1, 4), S(2, 2, 2), S(2, 2, 4), S(2, 4, 2), S(2, 4, 1),
    M(5, 2, 2, "old n5"), M(5, 4, 1, ""), M(5, 8, 2, ""), S(5, 1, 4), S(5, 2, 2), S(5, 2, 4), S(5, 4, 1), S(5, 4, 2),
    S(5, 8, 1), S(5, 1, 2), S(5, 2, 1),
};
struct QV { int t, r, u; Q4Fn fn; const char* tag; };
#define Q(T, R, U) {T, R, U, hq<T, R, U>, "fused"}
#define QS(T, R, U) {T, R, U, hqs<T, R, U>, "smem"}
static QV q4s[] = {
    Q(64, 4, 2), Q(128, 8, 1), QS(128, 1, 4), QS(128, 2, 2), QS(128, 2, 4), QS(128, 4, 1), QS(128, 4, 2),
    QS(128, 8, 1), QS(256, 2, 1), QS(256, 4, 1), QS(256, 1, 2), QS(64, 4, 1), QS(64, 8, 1), QS(128, 1, 2),
};

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = __float2bfloat16(((h & 0xffffff) / 16777216.0f * 2.0f - 1.0f) * scale);
    }
}
__global__ void fill_u32(uint32_t* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15; h *= 0x27d4eb2du; h ^= h >> 16;
        p[i] = h;
    }
}
__global__ void fill_params(float2* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        float a = (h & 0xffff) / 65536.0f, b = (h >> 16) / 65536.0f;
        p[i] = make_float2(0.001f + 0.02f * a, -0.15f * b);
    }
}

static cudaEvent_t e0, e1;
template <class F> static float timeit(F launch, int copies, int iters) {
    for (int i = 0; i < 3; ++i) launch(i % copies);
    CK(cudaEventRecord(e0));
    for (int i = 0; i < iters; ++i) launch(i % copies);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms; CK(cudaEventElapsedTime(&ms, e0, e1));
    CK(cudaGetLastError());
    return ms * 1000.0f / iters;
}
static float bf2f(uint16_t b) { uint32_t u = (uint32_t)b << 16; float f; memcpy(&f, &u, 4); return f; }

struct Shape { const char* name; int rows, cols; };
static Shape shapes[] = {
    {"L2 qkv", 12288, 4096}, {"L2 o", 4096, 4096}, {"L2 gate/up", 22016, 4096}, {"L2 down", 4096, 11008},
    {"L3 qkv", 6144, 4096}, {"L3 o", 4096, 4096}, {"L3 gate/up", 28672, 4096}, {"L3 down", 4096, 14336},
    {"L2 lmhead", 32000, 4096}, {"odd bf16", 5, 4096}, {"odd bf16", 1023, 1000}, {"odd bf16", 77, 136},
    {"odd bf16", 9, 100},
};

int main(int argc, char** argv) {
    const int iters = 100;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    const size_t poolBytes = 2000ull << 20;
    __nv_bfloat16* pool; CK(cudaMalloc(&pool, poolBytes));
    fill_bf16<<<4096, 256>>>(pool, poolBytes / 2, 12345u, 0.05f);
    float *x, *out, *ref1; CK(cudaMalloc(&x, 9 * 16384 * 4)); CK(cudaMalloc(&out, 9 * 32000 * 4)); CK(cudaMalloc(&ref1, 9 * 32000 * 4));
    {
        std::vector<float> hx(9 * 16384);
        uint32_t s = 7; for (auto& v : hx) { s = s * 1664525u + 1013904223u; v = ((s >> 8) / 16777216.0f) * 2 - 1; }
        CK(cudaMemcpy(x, hx.data(), hx.size() * 4, cudaMemcpyHostToDevice));
    }
    // copy bandwidth ceiling
    {
        size_t n = 1000ull << 20;
        float us = timeit([&](int) { cudaMemcpyAsync((char*)pool + n, pool, n, cudaMemcpyDeviceToDevice); }, 1, 10);
        printf("D2D copy 1000 MiB: %.1f us, %.0f GB/s (read+write)\n", us, 2.0 * n / us / 1e3);
    }
    CK(cudaDeviceSynchronize());
    std::vector<float> hx(9 * 16384); CK(cudaMemcpy(hx.data(), x, hx.size() * 4, cudaMemcpyDeviceToHost));

    // ------------------------------------------------------------------ bf16
    printf("\n== bf16 GEMV: us, GB/s of weight bytes; bitwise = every out[j] equals r1 on x[j]\n");
    bool allBitwise = true; double worstRel = 0;
    for (const Shape& sh : shapes) {
        const size_t bytes = (size_t)sh.rows * sh.cols * 2;
        const int copies = (int)std::max<size_t>(1, std::min<size_t>(poolBytes / bytes, 16));
        auto W = [&](int k) { return (const __nv_bfloat16*)((const char*)pool + (size_t)k * bytes); };
        const int rows = sh.rows, cols = sh.cols;
        // single-vector kernels
        Bf16Fn singles[3] = {qs_gemv_bf16_r1, qs_gemv_bf16_r2, qs_gemv_bf16_r4};
        int singleR[3] = {1, 2, 4};
        float best1 = 1e30f;
        for (int v = 0; v < 3; ++v) {
            int grid = (rows + GEMV_WARPS * singleR[v] - 1) / (GEMV_WARPS * singleR[v]);
            float us = timeit([&](int k) { singles[v]<<<grid, GEMV_THREADS>>>(W(k), x, out, rows, cols); }, copies, iters);
            best1 = std::min(best1, us);
            printf("%-11s %5dx%-5d single r%d          : %8.2f us %6.0f GB/s\n", sh.name, rows, cols, singleR[v], us, bytes / us / 1e3);
        }
        // n = 1 reference per vector (r1, copy 0)
        int grid1 = (rows + GEMV_WARPS - 1) / GEMV_WARPS;
        for (int j = 0; j < 5; ++j) qs_gemv_bf16_r1<<<grid1, GEMV_THREADS>>>(W(0), x + (size_t)j * cols, ref1 + (size_t)j * rows, rows, cols);
        CK(cudaDeviceSynchronize());
        std::vector<float> href(5 * rows); CK(cudaMemcpy(href.data(), ref1, href.size() * 4, cudaMemcpyDeviceToHost));
        // double reference on 48 rows
        {
            std::vector<uint16_t> hw((size_t)48 * cols);
            for (int i = 0; i < 48; ++i) {
                int r = (int)((long long)i * (rows - 1) / 47);
                CK(cudaMemcpy(hw.data() + (size_t)i * cols, (const char*)W(0) + (size_t)r * cols * 2, cols * 2, cudaMemcpyDeviceToHost));
            }
            for (int j = 0; j < 5; ++j) for (int i = 0; i < 48; ++i) {
                int r = (int)((long long)i * (rows - 1) / 47);
                double s = 0, mag = 0;
                for (int c = 0; c < cols; ++c) { double p = (double)bf2f(hw[(size_t)i * cols + c]) * hx[(size_t)j * cols + c]; s += p; mag += fabs(p); }
                double rel = fabs(href[(size_t)j * rows + r] - s) / (mag + 1e-30);
                worstRel = std::max(worstRel, rel);
            }
        }
        for (const MV& m : multis) {
            int grid = (rows + GEMV_WARPS * m.r - 1) / (GEMV_WARPS * m.r);
            CK(cudaMemset(out, 0xff, (size_t)m.nv * rows * 4));
            m.fn<<<grid, GEMV_THREADS>>>(W(0), x, out, rows, cols);
            CK(cudaDeviceSynchronize());
            std::vector<float> ho((size_t)m.nv * rows); CK(cudaMemcpy(ho.data(), out, ho.size() * 4, cudaMemcpyDeviceToHost));
            bool bit = memcmp(ho.data(), href.data(), ho.size() * 4) == 0;
            allBitwise &= bit;
            float us = timeit([&](int k) { m.fn<<<grid, GEMV_THREADS>>>(W(k), x, out, rows, cols); }, copies, iters);
            printf("%-11s %5dx%-5d n%d R%d U%d %-7s : %8.2f us %6.0f GB/s  x%.2f of best n=1 single  bitwise %s\n", sh.name, rows, cols,
                   m.nv, m.r, m.u, m.tag, us, bytes / us / 1e3, us / best1, bit ? "yes" : "NO");
        }
    }
    printf("bf16: all bitwise %s; worst |r1 - double| / sum|w x| = %.3g (test bound 1e-5)\n", allBitwise ? "yes" : "NO", worstRel);

    // ------------------------------------------------------------------ 4-bit
    printf("\n== 4-bit GEMV (G = 128): us, GB/s of codes + params\n");
    const int G = 128;
    uint8_t* cpool = (uint8_t*)pool;  // codes pool: first 1200 MB; params pool after
    float2* ppool = (float2*)((char*)pool + (1200ull << 20));
    const size_t pBytesMax = 700ull << 20;
    fill_u32<<<4096, 256>>>((uint32_t*)cpool, (1200ull << 20) / 4, 99u);
    fill_params<<<4096, 256>>>(ppool, pBytesMax / 8, 77u);
    float *xpad, *xsum; CK(cudaMalloc(&xpad, 16384 * 4)); CK(cudaMalloc(&xsum, 1024 * 4));
    const double U24 = 1.0 / 16777216.0;
    double worstOld = 0, worstNew = 0; bool allOk = true;
    Shape odd[] = {{"odd", 7, 1000}, {"odd", 3, 4097}, {"odd", 3, 31}, {"odd", 64, 4096}, {"odd", 1023, 1024}, {"odd", 4, 11008}, {"odd", 9, 300}};
    std::vector<Shape> q4shapes(shapes, shapes + 8);
    for (auto& s : odd) q4shapes.push_back(s);
    for (const Shape& sh : q4shapes) {
        const int rows = sh.rows, cols = sh.cols;
        const int pieces = (cols + 31) / 32, rowStride = pieces * 16, gpr = (cols + G - 1) / G;
        const size_t cb = (size_t)rows * rowStride, pb = (size_t)rows * gpr * 8;
        const int copies = (int)std::max<size_t>(1, std::min<size_t>(std::min<size_t>((1200ull << 20) / cb, pBytesMax / pb), 16));
        auto C = [&](int k) { return cpool + (size_t)k * cb; };
        auto P = [&](int k) { return (const float2*)((const char*)ppool + (size_t)k * pb); };
        const bool timed = strcmp(sh.name, "odd") != 0;
        // reference rows
        int nref = std::min(rows, 64);
        std::vector<double> ref(nref), bnd(nref);
        {
            std::vector<uint8_t> hc((size_t)rowStride); std::vector<float2> hp(gpr);
            for (int i = 0; i < nref; ++i) {
                int r = nref == rows ? i : (int)((long long)i * (rows - 1) / (nref - 1));
                CK(cudaMemcpy(hc.data(), C(0) + (size_t)r * rowStride, rowStride, cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(hp.data(), P(0) + (size_t)r * gpr, gpr * 8, cudaMemcpyDeviceToHost));
                double s = 0, b = 0;
                for (int c = 0; c < cols; ++c) {
                    int code = (hc[c / 2] >> (4 * (c & 1))) & 15;
                    double sc = hp[c / G].x, mn = hp[c / G].y;
                    s += (code * sc + mn) * hx[c];
                    b += (16 * sc * (1 + code / 16.0) + fabs(mn - 16 * sc)) * fabs(hx[c]);
                }
                ref[i] = s; bnd[i] = b;
            }
        }
        auto check = [&](double& worst) {
            CK(cudaDeviceSynchronize());
            std::vector<float> ho(rows); CK(cudaMemcpy(ho.data(), out, rows * 4, cudaMemcpyDeviceToHost));
            double w = 0;
            for (int i = 0; i < nref; ++i) {
                int r = nref == rows ? i : (int)((long long)i * (rows - 1) / (nref - 1));
                w = std::max(w, fabs(ho[r] - ref[i]) / (U24 * bnd[i]));
            }
            worst = std::max(worst, w);
            if (!(w < 96)) allOk = false;
            return w;
        };
        // old: prepare + gemv
        auto oldLaunch = [&](int k) {
            qs_q4_prepare_x<<<(pieces + 3) / 4, 128>>>(x, cols, xpad, xsum, pieces);
            qs_q4_gemv<<<(rows + 7) / 8, Q4_GEMV_THREADS>>>(C(k), P(k), xpad, xsum, out, rows, pieces, rowStride, gpr, G / 32);
        };
        CK(cudaMemset(out, 0xff, rows * 4)); oldLaunch(0); double wo = check(worstOld);
        if (timed) {
            float us = timeit(oldLaunch, copies, iters);
            float usg = timeit([&](int k) { qs_q4_gemv<<<(rows + 7) / 8, Q4_GEMV_THREADS>>>(C(k), P(k), xpad, xsum, out, rows, pieces, rowStride, gpr, G / 32); }, copies, iters);
            printf("%-11s %5dx%-5d old prepare+gemv : %7.2f us %6.0f GB/s (gemv alone %.2f us %.0f GB/s) err %.1f uB\n", sh.name, rows, cols,
                   us, (cb + pb) / us / 1e3, usg, (cb + pb) / usg / 1e3, wo);
        } else printf("%-11s %5dx%-5d old: err %.1f uB\n", sh.name, rows, cols, wo);
        for (const QV& q : q4s) {
            int grid = (rows + (q.t / 32) * q.r - 1) / ((q.t / 32) * q.r);
            CK(cudaMemset(out, 0xff, rows * 4));
            q.fn<<<grid, q.t>>>(C(0), P(0), x, out, rows, cols, rowStride, gpr, G / 32);
            double w = check(worstNew);
            if (timed) {
                float us = timeit([&](int k) { q.fn<<<grid, q.t>>>(C(k), P(k), x, out, rows, cols, rowStride, gpr, G / 32); }, copies, iters);
                printf("%-11s %5dx%-5d %-5s T%d R%d U%d : %7.2f us %6.0f GB/s err %.1f uB\n", sh.name, rows, cols, q.tag, q.t, q.r, q.u,
                       us, (cb + pb) / us / 1e3, w);
            } else printf("%-11s %5dx%-5d %-5s T%d R%d U%d err %.1f uB\n", sh.name, rows, cols, q.tag, q.t, q.r, q.u, w);
        }
    }
    printf("q4: worst err old %.1f uB, new %.1f uB (bound 96): %s\n", worstOld, worstNew, allOk ? "ok" : "FAIL");
    return 0;
}
