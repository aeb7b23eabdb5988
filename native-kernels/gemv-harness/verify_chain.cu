// The verification pass's bf16 GEMVs (n = 5 vectors, gemv.cuh qs_gemv_bf16_multi_body) inside a pass-like chain:
// 32 layers of qkv, o (+= residual), gate/up, down (+= residual) with distinct weights, captured in one CUDA graph,
// every launch with programmatic stream serialization as the engine launches them. Every (rows per warp R, pieces
// in flight U) variant accumulates in the same order, so choosing one never changes a bit (checked here); the
// isolated tuning of 2026-11-29 (bench-results/h200-2026-11-29-gemv-tuning.md) picked R8 U2 for o and down, which
// the engine's profile shows at ~48% of the copy rate inside a pass (128 blocks of 4 warps for 4096 rows).
// For each of the four projections, every variant is timed in the chain with the other three at the engine's
// choice (CudaKernels.multiGemvFor), then the per-projection winners together.
// Build: native-kernels/gemv-harness/build-verify-chain.sh [binary]
#include "../src/main/cuda/gemv.cuh"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("CUDA %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); exit(1); } } while (0)

constexpr int NV = 5;
constexpr int LAYERS = 32;
typedef void (*GFn)(const __nv_bfloat16*, const float*, float*, int, int);
template <int R, int U, bool ACC>
__global__ void __launch_bounds__(GEMV_THREADS) m5(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                   float* __restrict__ out, int rows, int cols) {
    qs_gemv_bf16_multi_body<NV, R, U, ACC>(W, x, out, rows, cols);
}
struct Variant { const char* name; int r; GFn plain, acc; };
#define V(R, U) {"R" #R " U" #U, R, m5<R, U, false>, m5<R, U, true>}
static const Variant variants[] = {V(1, 4), V(2, 2), V(2, 4), V(4, 1), V(4, 2), V(8, 1), V(8, 2), V(6, 1), V(6, 2)};
constexpr int NVAR = sizeof(variants) / sizeof(variants[0]);
static int find(const char* name) {
    for (int i = 0; i < NVAR; ++i) if (!strcmp(variants[i].name, name)) return i;
    printf("no variant %s\n", name); exit(1);
}

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f) * 0.05f);
    }
}
__global__ void fill_f32(float* p, size_t n, uint32_t seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        p[i] = (h & 0xffff) / 65536.0f - 0.5f;
    }
}

static cudaStream_t st;
static void launch(GFn f, int r, const __nv_bfloat16* W, const float* x, float* out, int rows, int cols) {
    cudaLaunchConfig_t c = {};
    c.gridDim = dim3((rows + GEMV_WARPS * r - 1) / (GEMV_WARPS * r)); c.blockDim = dim3(GEMV_THREADS); c.stream = st;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization; at[0].val.programmaticStreamSerializationAllowed = 1;
    c.attrs = at; c.numAttrs = 1;
    CK(cudaLaunchKernelEx(&c, f, W, x, out, rows, cols));
}

struct Shape { const char* name; int dim, qkv, ffn; };
enum { QKV, O, GU, DOWN, NPROJ };
static const char* projName[NPROJ] = {"qkv", "o (+=)", "gate/up", "down (+=)"};

int main() {
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs; %d layers, n = %d, PDL on every launch; us per layer (graph replay, median of 7 x 10)\n",
           prop.name, prop.multiProcessorCount, LAYERS, NV);
    const Shape shapes[] = {{"llama2-7b", 4096, 12288, 11008}, {"llama3.1-8b", 4096, 6144, 14336}};
    for (const Shape& s : shapes) {
        const int rows[NPROJ] = {s.qkv, s.dim, 2 * s.ffn, s.dim};
        const int cols[NPROJ] = {s.dim, s.dim, s.dim, s.ffn};
        // the engine's choice (CudaKernels.multiGemvFor, n = 5)
        int engine[NPROJ];
        for (int p = 0; p < NPROJ; ++p) {
            const char* v = cols[p] > 4096 || rows[p] <= 4096 ? "R8 U2" : rows[p] > 8192 && rows[p] <= 16384 ? "R8 U1" : "R4 U1";
            engine[p] = find(v);
        }
        std::vector<__nv_bfloat16*> W[NPROJ];
        double bytes = 0;
        for (int p = 0; p < NPROJ; ++p) {
            for (int l = 0; l < LAYERS; ++l) {
                __nv_bfloat16* w; size_t n = (size_t)rows[p] * cols[p];
                CK(cudaMalloc(&w, n * 2)); fill_bf16<<<2048, 256>>>(w, n, 97 * p + l + 1); W[p].push_back(w);
                bytes += n * 2.0;
            }
        }
        float *in[NPROJ], *out[NPROJ];
        for (int p = 0; p < NPROJ; ++p) {
            CK(cudaMalloc(&in[p], (size_t)NV * cols[p] * 4)); fill_f32<<<256, 256>>>(in[p], (size_t)NV * cols[p], 7 + p);
            CK(cudaMalloc(&out[p], (size_t)NV * rows[p] * 4));
        }
        CK(cudaDeviceSynchronize());
        // bitwise: every variant's result on layer 0 equals the engine's (the residual adds start from the same values)
        bool same = true;
        for (int p = 0; p < NPROJ; ++p) {
            std::vector<float> ref((size_t)NV * rows[p]), got(ref.size());
            for (int v = -1; v < NVAR; ++v) {
                const Variant& var = variants[v < 0 ? engine[p] : v];
                CK(cudaMemsetAsync(out[p], 0, ref.size() * 4, st));
                launch(p == O || p == DOWN ? var.acc : var.plain, var.r, W[p][0], in[p], out[p], rows[p], cols[p]);
                CK(cudaMemcpyAsync(v < 0 ? ref.data() : got.data(), out[p], ref.size() * 4, cudaMemcpyDeviceToHost, st));
                CK(cudaStreamSynchronize(st));
                if (v >= 0 && memcmp(ref.data(), got.data(), ref.size() * 4) != 0) {
                    printf("BITWISE MISMATCH %s %s %s\n", s.name, projName[p], var.name);
                    same = false;
                }
            }
        }
        printf("\n== %s: %.0f MB of bf16 weights per layer; every variant bitwise the engine's: %s\n", s.name,
               bytes / LAYERS / 1e6, same ? "yes" : "NO");
        auto chainUs = [&](const int (&pick)[NPROJ]) {
            cudaGraph_t g; cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
            for (int l = 0; l < LAYERS; ++l) {
                for (int p = 0; p < NPROJ; ++p) {
                    const Variant& var = variants[pick[p]];
                    launch(p == O || p == DOWN ? var.acc : var.plain, var.r, W[p][l], in[p], out[p], rows[p], cols[p]);
                }
            }
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
        const float base = chainUs(engine);
        printf("engine choice (qkv %s, o %s, gate/up %s, down %s): %.2f us/layer (%.0f GB/s, %.0f%% of 4262)\n",
               variants[engine[QKV]].name, variants[engine[O]].name, variants[engine[GU]].name, variants[engine[DOWN]].name,
               base, bytes / LAYERS / base / 1e3, bytes / LAYERS / base / 1e3 / 42.62);
        int best[NPROJ];
        for (int p = 0; p < NPROJ; ++p) {
            best[p] = engine[p];
            float bestUs = base;
            printf("  %-10s", projName[p]);
            for (int v = 0; v < NVAR; ++v) {
                int pick[NPROJ]; memcpy(pick, engine, sizeof pick); pick[p] = v;
                const float us = v == engine[p] ? base : chainUs(pick);
                printf(" | %s %.2f", variants[v].name, us);
                if (us < bestUs) { bestUs = us; best[p] = v; }
            }
            printf("\n");
        }
        const float b2 = chainUs(best);
        const float base2 = chainUs(engine);
        printf("best per projection (qkv %s, o %s, gate/up %s, down %s): %.2f us/layer against the engine's %.2f "
               "(re-timed): %.3fx\n", variants[best[QKV]].name, variants[best[O]].name, variants[best[GU]].name,
               variants[best[DOWN]].name, b2, base2, base2 / b2);
        for (int p = 0; p < NPROJ; ++p) {
            for (auto w : W[p]) CK(cudaFree(w));
            CK(cudaFree(in[p])); CK(cudaFree(out[p]));
        }
    }
    return 0;
}
