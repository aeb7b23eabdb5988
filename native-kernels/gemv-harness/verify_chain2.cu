// Tensor-core bf16 GEMV (gemv_tc.cuh) against the engine's fp32 GEMVs (gemv.cuh) in a verification-pass-like chain:
// 32 layers of qkv, o (+= residual), gate/up, down (+= residual) with distinct weights, one CUDA graph, every launch
// with programmatic stream serialization as the engine launches them; at n = 5 (a gamma = 4 pass) and n = 1 (the
// autoregressive step). Checks, on layer 0 of every projection: each tensor-core config's n = 5, 8 and 9 rows are
// bitwise its n = 1 result on that vector alone, its _acc is bitwise plain + add, and the error against a double
// reference (max |err| / sum |w x| and max |err| over sampled rows) next to the fp32 kernel's.
// Families: gemv_tc.cuh (registers, 16-row A tiles), gemv_tc_ring.cuh (cp.async ring, 16-row A tiles),
// gemv_tc8.cuh (weights as the B operand, 8 rows per warp). Then, per projection, the family with the fastest n = 5
// among those whose n = 1 is within 1% (run 3: 0.5%) of the fp32 n1 kernel's (the same family must serve both, for the bits),
// timed together. Results: bench-results/h200-2026-11-29-verify-gemv-tc.md.
// Build: native-kernels/gemv-harness/build-verify-chain2.sh [binary]
#include "../src/main/cuda/gemv.cuh"
#include "gemv_tc.cuh"
#include "gemv_tc_ring.cuh"
#include "gemv_tc8.cuh"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <vector>
#include <algorithm>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("CUDA %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); exit(1); } } while (0)

constexpr int LAYERS = 32;
typedef void (*GFn)(const __nv_bfloat16*, const float*, float*, int, int);

template <int NV, int WARPS, int TILES, int U, int PARTS, bool ACC>
__global__ void __launch_bounds__(WARPS * 32) tcr(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                  float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_tcr_body<NV, WARPS, TILES, U, PARTS, ACC>(W, x, out, rows, cols);
}
template <int NV, int WARPS, int CW, int S, int PARTS, bool ACC>
__global__ void __launch_bounds__(WARPS * 32) tc(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                 float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_tc_body<NV, WARPS, CW, S, PARTS, ACC>(W, x, out, rows, cols);
}
// A kernel family: n = 1, 5 (plain, acc), n = 8 and n = 9 (plain; null: not compiled); rowsPerBlock, threads.
struct Fam { const char* name; int rowsPerBlock, threads; GFn n1, n1acc, n5, n5acc, n8, n9; };
#define TCR(WA, TI, U, P) {"reg W" #WA " T" #TI " U" #U " P" #P, 16 * TI, WA * 32, tcr<1, WA, TI, U, P, false>, \
    tcr<1, WA, TI, U, P, true>, tcr<5, WA, TI, U, P, false>, tcr<5, WA, TI, U, P, true>, tcr<8, WA, TI, U, P, false>, nullptr}
#define TC(WA, CW, S, P) {"ring W" #WA " CW" #CW " S" #S " P" #P, 16, WA * 32, tc<1, WA, CW, S, P, false>, \
    tc<1, WA, CW, S, P, true>, tc<5, WA, CW, S, P, false>, tc<5, WA, CW, S, P, true>, tc<8, WA, CW, S, P, false>, \
    tc<9, WA, CW, S, P, false>}
template <int NV, int WPB, int KS, int U, int PARTS, bool ACC>
__global__ void __launch_bounds__(WPB * 32) tc8(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_tc8_body<NV, WPB, KS, U, PARTS, ACC>(W, x, out, rows, cols);
}
#define TC8(WPB, KS, U, P) {"b8 WPB" #WPB " KS" #KS " U" #U " P" #P, 8 * (WPB / KS), WPB * 32, tc8<1, WPB, KS, U, P, false>, \
    tc8<1, WPB, KS, U, P, true>, tc8<5, WPB, KS, U, P, false>, tc8<5, WPB, KS, U, P, true>, tc8<8, WPB, KS, U, P, false>, \
    tc8<9, WPB, KS, U, P, false>}
// run 1: TCR(8, 1, 4, 2), TCR(8, 2, 2, 2), TCR(4, 2, 4, 2), TCR(4, 1, 4, 2), TCR(8, 1, 4, 3), TCR(16, 1, 2, 2)
// run 2: TCR(16, 1, 2, 2), TC(4, 64, 4, 2), TC(8, 64, 3, 2), TC(4, 64, 6, 2), TC(8, 32, 4, 2), TC(16, 32, 3, 2),
//        TC(16, 32, 2, 2), TC(8, 64, 3, 3)
// run 3 (not run: the device budget ran out): the weights-as-B kernels, with run 2's best n = 5 and n = 1 ring configs
// run 3 (2026-11-29 ~21:10 UTC): the weights-as-B kernels alone (the register and ring families were run 1 and 2)
static const Fam fams[] = {TC8(4, 1, 8, 2), TC8(4, 1, 16, 2), TC8(4, 2, 8, 2), TC8(8, 2, 8, 2), TC8(8, 4, 4, 2),
                           TC8(8, 4, 8, 2), TC8(8, 8, 4, 2), TC8(16, 4, 4, 2), TC8(8, 4, 8, 3)};
constexpr int NFAM = sizeof(fams) / sizeof(fams[0]);

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f) * 0.05f);
    }
}
__global__ void fill_f32(float* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        // activations with a spread of magnitudes (an outlier every 97th element), as a hidden state has
        float v = (h & 0xffff) / 65536.0f - 0.5f;
        p[i] = (i % 97 == 5) ? v * 40.0f : v;
    }
}

static cudaStream_t st;
static void launch(GFn f, int rowsPerBlock, int threads, const __nv_bfloat16* W, const float* x, float* out, int rows, int cols) {
    cudaLaunchConfig_t c = {};
    c.gridDim = dim3((rows + rowsPerBlock - 1) / rowsPerBlock); c.blockDim = dim3(threads); c.stream = st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; at[0].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at; c.numAttrs = 1;
    CK(cudaLaunchKernelEx(&c, f, W, x, out, rows, cols));
}

struct Shape { const char* name; int dim, qkv, ffn; };
enum { QKV, O, GU, DOWN, NPROJ };
static const char* projName[NPROJ] = {"qkv", "o+=", "gate/up", "down+="};
// One launch choice per projection: (function, rowsPerBlock, threads).
struct Pick { GFn f; int rpb, th; };

int main() {
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs; %d layers, PDL on every launch; us per layer (graph replay, median of 7 x 10); %% of 4262 GB/s\n",
           prop.name, prop.multiProcessorCount, LAYERS);
    const Shape shapes[] = {{"llama2-7b", 4096, 12288, 11008}, {"llama3.1-8b", 4096, 6144, 14336}};
    for (const Shape& s : shapes) {
        const int rows[NPROJ] = {s.qkv, s.dim, 2 * s.ffn, s.dim};
        const int cols[NPROJ] = {s.dim, s.dim, s.dim, s.ffn};
        const bool acc[NPROJ] = {false, true, false, true};
        std::vector<__nv_bfloat16*> W[NPROJ];
        double bytes = 0, pbytes[NPROJ];
        for (int p = 0; p < NPROJ; ++p) {
            pbytes[p] = (double)rows[p] * cols[p] * 2;
            for (int l = 0; l < LAYERS; ++l) {
                __nv_bfloat16* w; size_t n = (size_t)rows[p] * cols[p];
                CK(cudaMalloc(&w, n * 2)); fill_bf16<<<2048, 256>>>(w, n, 97 * p + l + 1); W[p].push_back(w);
                bytes += n * 2.0;
            }
        }
        bytes /= LAYERS;
        float *in[NPROJ], *out[NPROJ], *tmp;
        size_t maxOut = 0;
        for (int p = 0; p < NPROJ; ++p) {
            CK(cudaMalloc(&in[p], (size_t)9 * cols[p] * 4)); fill_f32<<<256, 256>>>(in[p], (size_t)9 * cols[p], 7 + p);
            CK(cudaMalloc(&out[p], (size_t)9 * rows[p] * 4));
            maxOut = std::max(maxOut, (size_t)9 * rows[p]);
        }
        CK(cudaMalloc(&tmp, maxOut * 4));
        CK(cudaDeviceSynchronize());
        printf("\n== %s: %.0f MB of bf16 weights per layer (copy-rate floor %.1f us)\n", s.name, bytes / 1e6, bytes / 4262e3);

        // ---- checks on layer 0
        auto run = [&](GFn f, int rpb, int th, int p, const float* x, float* o) {
            launch(f, rpb, th, W[p][0], x, o, rows[p], cols[p]);
            CK(cudaStreamSynchronize(st));
        };
        auto down = [&](const float* d, size_t n) { std::vector<float> h(n); CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost)); return h; };
        for (int p = 0; p < NPROJ; ++p) {
            const int R = rows[p], C = cols[p];
            std::vector<__nv_bfloat16> hw((size_t)R * C);
            CK(cudaMemcpy(hw.data(), W[p][0], hw.size() * 2, cudaMemcpyDeviceToHost));
            std::vector<float> hx = down(in[p], (size_t)9 * C);
            // double reference on every 8th row (and the last), vectors 0..4
            std::vector<int> sample;
            for (int r = 0; r < R; r += 8) sample.push_back(r);
            sample.push_back(R - 1);
            std::vector<double> ref(sample.size() * 5), mag(sample.size() * 5);
            for (size_t si = 0; si < sample.size(); ++si)
                for (int j = 0; j < 5; ++j) {
                    double a = 0, m = 0;
                    for (int c = 0; c < C; ++c) {
                        const double q = (double)__bfloat162float(hw[(size_t)sample[si] * C + c]) * hx[(size_t)j * C + c];
                        a += q; m += fabs(q);
                    }
                    ref[si * 5 + j] = a; mag[si * 5 + j] = m;
                }
            auto err = [&](const std::vector<float>& got, double& rel, double& ab) {
                rel = 0; ab = 0;
                for (size_t si = 0; si < sample.size(); ++si)
                    for (int j = 0; j < 5; ++j) {
                        const double e = fabs((double)got[(size_t)j * R + sample[si]] - ref[si * 5 + j]);
                        rel = std::max(rel, e / mag[si * 5 + j]); ab = std::max(ab, e);
                    }
            };
            double rel, ab;
            {
                const bool big = R > 8192 && R <= 24576;
                run(big ? (GFn)qs_gemv_bf16_n5_r8u1 : (GFn)qs_gemv_bf16_n5_r4u2, big ? 32 : 16, 128, p, in[p], out[p]);
                err(down(out[p], (size_t)5 * R), rel, ab);
                printf("  check %-8s fp32 engine n5        : max err/sum|wx| %.2e, max |err| %.2e\n", projName[p], rel, ab);
            }
            for (int fi = 0; fi < NFAM; ++fi) {
                const Fam& f = fams[fi];
                run(f.n5, f.rowsPerBlock, f.threads, p, in[p], out[p]);
                std::vector<float> g5 = down(out[p], (size_t)5 * R);
                err(g5, rel, ab);
                run(f.n8, f.rowsPerBlock, f.threads, p, in[p], out[p]);
                std::vector<float> g8 = down(out[p], (size_t)8 * R);
                std::vector<float> g9;
                if (f.n9) { run(f.n9, f.rowsPerBlock, f.threads, p, in[p], out[p]); g9 = down(out[p], (size_t)9 * R); }
                bool b5 = true, b8 = true, b9 = f.n9 != nullptr;
                for (int j = 0; j < 9; ++j) {
                    run(f.n1, f.rowsPerBlock, f.threads, p, in[p] + (size_t)j * C, tmp);
                    std::vector<float> g1 = down(tmp, R);
                    if (j < 5 && memcmp(g1.data(), g5.data() + (size_t)j * R, R * 4)) b5 = false;
                    if (j < 8 && memcmp(g1.data(), g8.data() + (size_t)j * R, R * 4)) b8 = false;
                    if (f.n9 && memcmp(g1.data(), g9.data() + (size_t)j * R, R * 4)) b9 = false;
                }
                // _acc (n = 5 and n = 1) against plain + add, starting from x-like values
                bool ba = true;
                fill_f32<<<256, 256>>>(out[p], (size_t)5 * R, 99);
                std::vector<float> r0 = down(out[p], (size_t)5 * R);
                run(f.n5acc, f.rowsPerBlock, f.threads, p, in[p], out[p]);
                std::vector<float> ga = down(out[p], (size_t)5 * R);
                for (size_t i = 0; i < ga.size(); ++i) { const float w = r0[i] + g5[i]; if (memcmp(&w, &ga[i], 4)) ba = false; }
                fill_f32<<<256, 256>>>(tmp, R, 99);
                run(f.n1acc, f.rowsPerBlock, f.threads, p, in[p], tmp);
                std::vector<float> g1a = down(tmp, R);
                for (int i = 0; i < R; ++i) { const float w = r0[i] + g5[i]; if (memcmp(&w, &g1a[i], 4)) ba = false; }
                printf("  check %-8s %-19s: max err/sum|wx| %.2e, max |err| %.2e; n5 rows == n1 bitwise %s, n8 rows == n1 %s, n9 %s, "
                       "acc == plain + add %s\n", projName[p], f.name, rel, ab, b5 ? "yes" : "NO", b8 ? "yes" : "NO",
                       f.n9 ? (b9 ? "yes" : "NO") : "-", ba ? "yes" : "NO");
            }
        }
        fflush(stdout);

        // ---- timing
        auto chainUs = [&](const Pick (&pick)[NPROJ], int only) {  // only: -1 the whole layer, else one projection
            cudaGraph_t g; cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
            for (int l = 0; l < LAYERS; ++l)
                for (int p = 0; p < NPROJ; ++p)
                    if (only < 0 || only == p) launch(pick[p].f, pick[p].rpb, pick[p].th, W[p][l], in[p], out[p], rows[p], cols[p]);
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            for (int i = 0; i < 3; ++i) CK(cudaGraphLaunch(ge, st));
            std::vector<float> t;
            for (int b = 0; b < 7; ++b) {
                CK(cudaEventRecord(e0, st));
                for (int i = 0; i < 10; ++i) CK(cudaGraphLaunch(ge, st));
                CK(cudaEventRecord(e1, st)); CK(cudaEventSynchronize(e1));
                float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); t.push_back(ms * 1000.0f / 10 / LAYERS);
            }
            CK(cudaGraphExecDestroy(ge)); CK(cudaGraphDestroy(g));
            std::sort(t.begin(), t.end());
            return t[3];
        };
        // per-projection times [family + 1][n index][p] (family -1: the fp32 engine kernels), and whole layers
        std::vector<float> per((NFAM + 1) * 2 * NPROJ), lay((NFAM + 1) * 2);
        auto report = [&](const char* label, const Pick (&pick)[NPROJ], float* perOut) {
            const float all = chainUs(pick, -1);
            printf("  %-24s layer %7.2f us (%3.0f%%) |", label, all, bytes / all / 42.62e3 * 1.0);
            for (int p = 0; p < NPROJ; ++p) {
                const float us = chainUs(pick, p);
                if (perOut) perOut[p] = us;
                printf(" %s %6.2f (%3.0f%%)", projName[p], us, pbytes[p] / us / 42.62e3);
            }
            printf("\n"); fflush(stdout);
            return all;
        };
        auto pickOf = [&](int fi, int n, int p) {  // fi -1: the engine's fp32 kernels
            if (fi < 0) {
                if (n == 1) return Pick{acc[p] ? (GFn)qs_gemv_bf16_n1_acc : (GFn)qs_gemv_bf16_n1, 8, 128};
                const bool big = rows[p] > 8192 && rows[p] <= 24576;
                return big ? Pick{acc[p] ? (GFn)qs_gemv_bf16_n5_r8u1_acc : (GFn)qs_gemv_bf16_n5_r8u1, 32, 128}
                           : Pick{acc[p] ? (GFn)qs_gemv_bf16_n5_r4u2_acc : (GFn)qs_gemv_bf16_n5_r4u2, 16, 128};
            }
            const Fam& f = fams[fi];
            return Pick{n == 1 ? (acc[p] ? f.n1acc : f.n1) : (acc[p] ? f.n5acc : f.n5), f.rowsPerBlock, f.threads};
        };
        for (int ni = 0; ni < 2; ++ni) {
            const int n = ni == 0 ? 5 : 1;
            printf(" n = %d\n", n);
            for (int fi = -1; fi < NFAM; ++fi) {
                Pick pk[NPROJ];
                for (int p = 0; p < NPROJ; ++p) pk[p] = pickOf(fi, n, p);
                lay[(fi + 1) * 2 + ni] = report(fi < 0 ? (n == 1 ? "fp32 engine n1" : "fp32 engine n5") : fams[fi].name, pk,
                                                &per[((fi + 1) * 2 + ni) * NPROJ]);
            }
        }
        // per projection: the family with the fastest n = 5 among those whose n = 1 is within 1% of the fp32 n1
        // kernel's (the autoregressive step must not get slower); the fp32 kernels if none
        int mix[NPROJ];
        printf(" mixed pick (n = 1 and n = 5 from the same family per projection):");
        for (int p = 0; p < NPROJ; ++p) {
            mix[p] = -1;
            float best = per[(0 * 2 + 0) * NPROJ + p];
            const float n1ref = per[(0 * 2 + 1) * NPROJ + p];
            for (int fi = 0; fi < NFAM; ++fi) {
                const float t5 = per[((fi + 1) * 2 + 0) * NPROJ + p], t1 = per[((fi + 1) * 2 + 1) * NPROJ + p];
                if (t1 <= 1.005f * n1ref && t5 < best) { best = t5; mix[p] = fi; }
            }
            printf(" %s: %s;", projName[p], mix[p] < 0 ? "fp32" : fams[mix[p]].name);
        }
        printf("\n");
        int mix1[NPROJ];
        printf(" best-n1 pick (the family with the fastest n = 1 per projection):");
        for (int p = 0; p < NPROJ; ++p) {
            mix1[p] = -1;
            float best = per[(0 * 2 + 1) * NPROJ + p];
            for (int fi = 0; fi < NFAM; ++fi)
                if (per[((fi + 1) * 2 + 1) * NPROJ + p] < best) { best = per[((fi + 1) * 2 + 1) * NPROJ + p]; mix1[p] = fi; }
            printf(" %s: %s;", projName[p], mix1[p] < 0 ? "fp32" : fams[mix1[p]].name);
        }
        printf("\n");
        for (int n : {5, 1}) {
            Pick pk[NPROJ];
            for (int p = 0; p < NPROJ; ++p) pk[p] = pickOf(mix1[p], n, p);
            const float m = report(n == 1 ? "best-n1 mix n1" : "best-n1 mix n5", pk, nullptr);
            printf("  best-n1 mix vs the first fp32 n%d chain: %.3fx\n", n, lay[0 * 2 + (n == 1 ? 1 : 0)] / m);
        }
        for (int n : {5, 1}) {
            Pick pk[NPROJ];
            for (int p = 0; p < NPROJ; ++p) pk[p] = pickOf(mix[p], n, p);
            const float m = report(n == 1 ? "mixed n1" : "mixed n5", pk, nullptr);
            Pick bk[NPROJ];
            for (int p = 0; p < NPROJ; ++p) bk[p] = pickOf(-1, n, p);
            const float b0 = report(n == 1 ? "fp32 engine n1 (again)" : "fp32 engine n5 (again)", bk, nullptr);
            printf("  mixed / fp32 at n = %d: %.3fx faster\n", n, b0 / m);
        }
        for (int p = 0; p < NPROJ; ++p) {
            for (auto w : W[p]) CK(cudaFree(w));
            CK(cudaFree(in[p])); CK(cudaFree(out[p]));
        }
        CK(cudaFree(tmp));
    }
    return 0;
}
