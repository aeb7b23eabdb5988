// Standalone timing/correctness harness for the decoder's GEMVs (2026-11-29 tuning):
//   bf16 multi-vector GEMV qs_gemv_bf16_multi_body<NV, R, U> (gemv.cuh) at N = 1, 2, 5 against the
//   single-vector kernels, with bitwise checks out[j] == r1(x[j]) and a double reference;
//   4-bit GEMV (second round): the fp32 shared-x kernels qs_q4_gemv_smem_body (the former launch) against
//   the half2 kernels qs_q4_gemv_h2_body (chunked; h2pf = codes prefetched one chunk ahead) and
//   qs_q4_gemv_h2w_body (whole x staged once, "wide", optional grid cap C blocks per SM), with a double
//   reference on x and on an x with outliers; fp32 kernels against 96 u B, fp16 ones against
//   18 u_h S + 96 u B (PassKernelsGpuTest).
// Weights rotate over a pool so that no launch finds its matrix in the 50 MB L2.
// Build: native-kernels/gemv-harness/build.sh [binary]; run: gemv_harness [q4]  (q4: skip the bf16 part)
#include "../src/main/cuda/gemv.cuh"
#include "q4gemv_baselines.cuh"
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
template <int T, int R, int U, bool PF = false>
__global__ void __launch_bounds__(T) hh2(const uint8_t* __restrict__ codes, const float2* __restrict__ params,
                                         const float* __restrict__ x, float* __restrict__ out, int rows, int cols,
                                         int rowStride, int groupsPerRow, int ppg) {
    qs_q4_gemv_h2_body<T, R, U, PF>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, ppg);
}
template <int T, int R, int U>
__global__ void __launch_bounds__(T) hw2(const uint8_t* __restrict__ codes, const float2* __restrict__ params,
                                         const float* __restrict__ x, float* __restrict__ out, int rows, int cols,
                                         int rowStride, int groupsPerRow, int ppg) {
    qs_q4_gemv_h2w_body<T, R, U>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, ppg);
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
struct QV { int t, r, u; Q4Fn fn; const char* tag; int cap = 0; };
#define Q(T, R, U) {T, R, U, hq<T, R, U>, "fused"}
#define QS(T, R, U) {T, R, U, hqs<T, R, U>, "smem"}
#define QH(T, R, U) {T, R, U, hh2<T, R, U>, "half2"}
#define QP(T, R, U) {T, R, U, hh2<T, R, U, true>, "h2pf"}
#define QW(T, R, U, CAP) {T, R, U, hw2<T, R, U>, "wide", CAP}
static QV q4s[] = {
    QS(256, 2, 1), QS(256, 4, 1), QS(256, 1, 2),
    QH(256, 4, 2), QH(256, 2, 2), QH(128, 4, 1), QH(128, 2, 2), QP(128, 2, 1),
    QW(256, 4, 1, 0), QW(256, 2, 2, 0), QW(256, 4, 2, 0), QW(256, 2, 4, 0), QW(256, 1, 4, 0),
    QW(128, 4, 1, 0), QW(128, 4, 2, 0), QW(128, 2, 2, 0), QW(128, 2, 4, 0), QW(128, 1, 4, 0), QW(128, 8, 1, 0),
    QW(256, 4, 1, 4), QW(256, 4, 2, 2), QW(256, 4, 2, 3), QW(256, 2, 2, 4), QW(256, 2, 4, 3),
    QW(128, 4, 1, 8), QW(128, 4, 2, 6), QW(128, 2, 4, 6), QW(128, 2, 2, 8), QW(512, 2, 2, 2), QW(512, 4, 1, 2),
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
    const bool q4only = argc > 1 && strcmp(argv[1], "q4") == 0;
    for (const Shape& sh : shapes) {
        if (q4only) break;
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
    const double U24 = 1.0 / 16777216.0, UH = 1.0 / 2048.0;
    double worstF32 = 0, worstH2 = 0, worstH2c = 0; bool allOk = true;
    // a second x with outliers (fp16 range: the half2 kernels scale each 32-value piece)
    const size_t XO = 8 * 16384;
    std::vector<float> hxo(hx.begin(), hx.begin() + 16384);
    hxo[5] = 3000.0f; hxo[100] = -20000.0f; hxo[4000] = 1e-6f; hxo[4001] = 70000.0f;
    for (int c = 2048; c < 2080; ++c) hxo[c] = 1e-5f * (c - 2060);  // a piece of tiny values
    CK(cudaMemcpy(x + XO, hxo.data(), 16384 * 4, cudaMemcpyHostToDevice));
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
        int nref = std::min(rows, 64);
        // per x vector v (0 normal, 1 outliers): exact ref, B (fp32 bound), S (half2 bound)
        std::vector<double> ref[2], bnd[2], sh2[2];
        {
            std::vector<uint8_t> hc((size_t)rowStride); std::vector<float2> hp(gpr);
            for (int v = 0; v < 2; ++v) {
                const float* xv = v == 0 ? hx.data() : hxo.data();
                double mx = 0; for (int c = 0; c < cols; ++c) mx = std::max(mx, (double)fabs(xv[c]));
                ref[v].resize(nref); bnd[v].resize(nref); sh2[v].resize(nref);
                for (int i = 0; i < nref; ++i) {
                    int r = nref == rows ? i : (int)((long long)i * (rows - 1) / (nref - 1));
                    CK(cudaMemcpy(hc.data(), C(0) + (size_t)r * rowStride, rowStride, cudaMemcpyDeviceToHost));
                    CK(cudaMemcpy(hp.data(), P(0) + (size_t)r * gpr, gpr * 8, cudaMemcpyDeviceToHost));
                    double s = 0, b = 0, h = 0;
                    for (int c = 0; c < cols; ++c) {
                        int code = (hc[c / 2] >> (4 * (c & 1))) & 15;
                        double sc = hp[c / G].x, mn = hp[c / G].y;
                        s += (code * sc + mn) * xv[c];
                        b += (16 * sc * (1 + code / 16.0) + fabs(mn - 16 * sc)) * fabs(xv[c]);
                        h += sc * code * (fabs(xv[c]) + mx / 32768.0);
                    }
                    ref[v][i] = s; bnd[v][i] = b; sh2[v][i] = h;
                }
            }
        }
        // returns err / bound (< 1 passes); c = err / (u_h S) for the half2 kernels, err / (u B) for fp32 ones
        auto check = [&](int v, bool half, double& cmax) {
            CK(cudaDeviceSynchronize());
            std::vector<float> ho(rows); CK(cudaMemcpy(ho.data(), out, rows * 4, cudaMemcpyDeviceToHost));
            double w = 0; cmax = 0;
            for (int i = 0; i < nref; ++i) {
                int r = nref == rows ? i : (int)((long long)i * (rows - 1) / (nref - 1));
                double e = fabs((double)ho[r] - ref[v][i]);
                double bound = half ? 18 * UH * sh2[v][i] + 96 * U24 * bnd[v][i] : 96 * U24 * bnd[v][i];
                double rel = e / bound;
                if (!(rel <= 1)) rel = 1e30;
                w = std::max(w, rel);
                cmax = std::max(cmax, half ? e / (UH * sh2[v][i]) : e / (U24 * bnd[v][i]));
            }
            if (!(w <= 1)) allOk = false;
            return w;
        };
        for (const QV& q : q4s) {
            const bool half = q.tag[0] == 'h' || q.tag[0] == 'w';  // half2, h2pf, wide: fp16 products
            int grid = (rows + (q.t / 32) * q.r - 1) / ((q.t / 32) * q.r);
            if (q.cap) grid = std::min(grid, q.cap * prop.multiProcessorCount);
            const int smem = q.tag[0] == 'w' ? pieces * 72 : 0;
            double c0, c1, w0, w1;
            CK(cudaMemset(out, 0xff, rows * 4));
            q.fn<<<grid, q.t, smem>>>(C(0), P(0), x, out, rows, cols, rowStride, gpr, G / 32);
            w0 = check(0, half, c0);
            CK(cudaMemset(out, 0xff, rows * 4));
            q.fn<<<grid, q.t, smem>>>(C(0), P(0), x + XO, out, rows, cols, rowStride, gpr, G / 32);
            w1 = check(1, half, c1);
            if (half) { worstH2 = std::max(worstH2, std::max(w0, w1)); worstH2c = std::max(worstH2c, std::max(c0, c1)); }
            else worstF32 = std::max(worstF32, std::max(w0, w1));
            const char* unit = half ? "u_h S" : "u B";
            if (timed) {
                float us = timeit([&](int k) { q.fn<<<grid, q.t, smem>>>(C(k), P(k), x, out, rows, cols, rowStride, gpr, G / 32); }, copies, iters);
                printf("%-11s %5dx%-5d %-5s T%d R%d U%d C%d : %7.2f us %6.0f GB/s err %.3g / %.3g %s (outlier x), %.3g / %.3g of bound\n", sh.name, rows, cols,
                       q.tag, q.t, q.r, q.u, q.cap, us, (cb + pb) / us / 1e3, c0, c1, unit, w0, w1);
            } else printf("%-11s %5dx%-5d %-5s T%d R%d U%d C%d err %.3g / %.3g %s, %.3g / %.3g of bound\n", sh.name, rows, cols, q.tag, q.t, q.r, q.u, q.cap,
                          c0, c1, unit, w0, w1);
        }
    }
    printf("q4: worst fp32 %.3g of its bound (96 u B); half2 %.3g of its bound (18 u_h S + 96 u B), worst %.3g u_h S: %s\n",
           worstF32, worstH2, worstH2c, allOk ? "ok" : "FAIL");
    return 0;
}
