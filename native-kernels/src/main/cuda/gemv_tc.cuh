// Tensor-core multi-vector bf16 GEMV for the passes of the QuantSpec decoder (draft steps, verifications and the
// autoregressive steps with the hierarchical cache): out[j][r] = sum_c W[r][c] * x[j][c] for j < NV <= 8.
//   W bf16 [rows][cols] (row-major), x fp32 [NV][cols] (row j at x + j * cols), out fp32 [NV][rows].
// Why: the fp32-FMA multi-vector kernels of gemv.cuh cost 40 FMAs per 16 weight bytes at 5 vectors and grow with
// every vector, so a verification of gamma + 1 = 7 rows paid ~2.4 ms more than one of 5 at the Llama-2-7B shape.
// Here one mma.sync.m16n8k16 (bf16 x bf16 -> fp32) serves all 8 vector columns at once, so a pass of 1..8 rows costs
// the same (gemv-harness/gemv_tc.cuh, bench-results/h200-2026-11-29-verify-gemv-tc.md: "reg W16 T1 U2 P2", 120.7 us
// per Llama-2-7B layer at 5 vectors against 125.9 for the fp32 kernels, within 1.5% of its own 1-vector time).
//
// Arithmetic (the same for every NV, so a pass's row j is bitwise a 1-row pass on x[j]: an MMA column depends on its
// own B column only): x is split into two bf16 parts, hi = bf16(x) and lo = bf16(x - hi) (the remainder is exact in
// fp32), each part multiplied by the weights in its own fp32 accumulator. A 16-row tile per block; warp w of the 16
// takes the 32-column chunks w, w + 16, ... in order, thread (g = lane / 4, t = lane % 4) loading columns t*8 .. t*8+7
// of rows g and g + 8 (the MMA's k order permuted alike for A and B); the parts are added, then the warps' sums in
// warp order through shared memory. Error: about 2^-16 relative per product from the 16 bits of x the two parts keep,
// plus fp32 accumulation: measured <= 6.1e-7 of sum |w x| (PassKernelsGpuTest holds it to 1e-5).
// Not bitwise the single-vector decoder kernels of gemv.cuh (CudaTransformer's plain autoregressive steps); the
// passes only need to agree with each other.
// grid: ceil(rows / 16), block QS_TC_GEMV_THREADS; programmatic launch: the first weights are requested before
// qs_wait_prior_grid().
#pragma once
#include "common.cuh"

constexpr int QS_TC_GEMV_WARPS = 16;
constexpr int QS_TC_GEMV_THREADS = QS_TC_GEMV_WARPS * 32;
constexpr int QS_TC_GEMV_UNROLL = 2;  // 32-column chunks in flight per warp
constexpr int QS_TC_GEMV_PARTS = 2;   // bf16 parts of x

__device__ __forceinline__ void qs_tc_mma_bf16(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                               uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// 8 floats as PARTS bf16 parts packed as B fragments: b[part][i] holds elements 2i (low half) and 2i + 1.
__device__ __forceinline__ void qs_tc_split_x(const float (&xv)[8], uint32_t (&b)[QS_TC_GEMV_PARTS][4]) {
    float r[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) r[i] = xv[i];
#pragma unroll
    for (int part = 0; part < QS_TC_GEMV_PARTS; ++part) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const __nv_bfloat162 v = __floats2bfloat162_rn(r[2 * i], r[2 * i + 1]);
            b[part][i] = *reinterpret_cast<const uint32_t*>(&v);
            if (part + 1 < QS_TC_GEMV_PARTS) {  // the remainder is exact in fp32
                r[2 * i] = __fsub_rn(r[2 * i], __uint_as_float(b[part][i] << 16));
                r[2 * i + 1] = __fsub_rn(r[2 * i + 1], __uint_as_float(b[part][i] & 0xffff0000u));
            }
        }
    }
}

// One 32-column chunk: MMA step s uses the thread's columns t*8 + 4s .. + 3 (logical k 2t, 2t+1 <- physical +0, +1;
// 2t+8, 2t+9 <- +2, +3), rows g (wA) and g + 8 (wB).
__device__ __forceinline__ void qs_tc_chunk(float (&acc)[QS_TC_GEMV_PARTS][4], const uint4& wA, const uint4& wB,
                                            const uint32_t (&xb)[QS_TC_GEMV_PARTS][4]) {
    const uint32_t* a = reinterpret_cast<const uint32_t*>(&wA);
    const uint32_t* b = reinterpret_cast<const uint32_t*>(&wB);
#pragma unroll
    for (int s = 0; s < 2; ++s)
#pragma unroll
        for (int part = 0; part < QS_TC_GEMV_PARTS; ++part)
            qs_tc_mma_bf16(acc[part], a[2 * s], b[2 * s], a[2 * s + 1], b[2 * s + 1], xb[part][2 * s], xb[part][2 * s + 1]);
}

// 8 bf16 of a row from column c0, zeros past cols (the last chunk, and every chunk of rows that are not 16-byte aligned).
__device__ __forceinline__ uint4 qs_tc_load_guarded(const __nv_bfloat16* row, int c0, int cols) {
    const unsigned short* p = reinterpret_cast<const unsigned short*>(row);
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t lo = c0 + 2 * i < cols ? p[c0 + 2 * i] : 0u;
        const uint32_t hi = c0 + 2 * i + 1 < cols ? p[c0 + 2 * i + 1] : 0u;
        w[i] = lo | (hi << 16);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

template <int NV, bool ACCUMULATE>
__device__ __forceinline__ void qs_gemv_bf16_tc_body(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                     float* __restrict__ out, int rows, int cols) {
    static_assert(NV >= 1 && NV <= 8, "B has 8 columns");
    constexpr int WARPS = QS_TC_GEMV_WARPS, U = QS_TC_GEMV_UNROLL, PARTS = QS_TC_GEMV_PARTS;
    __shared__ float red[WARPS][16][9];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int rowBase = blockIdx.x * 16;
    const int ra = rowBase + g, rb = ra + 8;
    const __nv_bfloat16* rowA = W + (size_t)(ra < rows ? ra : rows - 1) * cols;  // past the end: re-read, discarded
    const __nv_bfloat16* rowB = W + (size_t)(rb < rows ? rb : rows - 1) * cols;
    const bool hasX = g < NV;  // B column g is vector g; the others multiply zeros
    const float* xg = x + (size_t)(hasX ? g : 0) * cols;
    float acc[PARTS][4];
#pragma unroll
    for (int part = 0; part < PARTS; ++part)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[part][i] = 0.0f;

    const bool aligned = (cols & 7) == 0;
    const int full = aligned ? cols >> 5 : 0;  // whole chunks taken by the 16-byte path
    int c = warp;
    for (; c + (U - 1) * WARPS < full; c += U * WARPS) {
        uint4 wA[U], wB[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const size_t off = (size_t)(c + u * WARPS) * 32 + t * 8;
            wA[u] = qs_load_stream16(rowA + off);
            wB[u] = qs_load_stream16(rowB + off);
        }
        if (c == warp) qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
#pragma unroll
        for (int u = 0; u < U; ++u) {
            float xv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            if (hasX) {
                const float4* xp = reinterpret_cast<const float4*>(xg + (size_t)(c + u * WARPS) * 32 + t * 8);
                const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
                xv[0] = x0.x; xv[1] = x0.y; xv[2] = x0.z; xv[3] = x0.w;
                xv[4] = x1.x; xv[5] = x1.y; xv[6] = x1.z; xv[7] = x1.w;
            }
            uint32_t xb[PARTS][4];
            qs_tc_split_x(xv, xb);
            qs_tc_chunk(acc, wA[u], wB[u], xb);
        }
    }
    qs_wait_prior_grid();  // warps that had no full step (a no-op for the others)
    const int chunks = (cols + 31) >> 5;
    for (; c < chunks; c += WARPS) {  // the rest of this warp's chunks, one at a time, in order
        const int c0 = c * 32 + t * 8;
        const bool fast = aligned && c0 + 8 <= cols;
        const uint4 wA = fast ? qs_load_stream16(rowA + c0) : qs_tc_load_guarded(rowA, c0, cols);
        const uint4 wB = fast ? qs_load_stream16(rowB + c0) : qs_tc_load_guarded(rowB, c0, cols);
        float xv[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) xv[i] = hasX && c0 + i < cols ? xg[c0 + i] : 0.0f;
        uint32_t xb[PARTS][4];
        qs_tc_split_x(xv, xb);
        qs_tc_chunk(acc, wA, wB, xb);
    }
    // D fragment: acc[..][0], [1]: row g, columns 2t, 2t + 1; [2], [3]: row g + 8
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float v = acc[0][i];
#pragma unroll
        for (int part = 1; part < PARTS; ++part) v = __fadd_rn(v, acc[part][i]);
        red[warp][g + (i >> 1) * 8][2 * t + (i & 1)] = v;
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < 16 * NV; idx += WARPS * 32) {
        const int j = idx >> 4, row = idx & 15;
        float total = red[0][row][j];
#pragma unroll
        for (int w = 1; w < WARPS; ++w) total = __fadd_rn(total, red[w][row][j]);
        const int r = rowBase + row;
        if (r < rows) {
            float* o = out + (size_t)j * rows + r;
            *o = ACCUMULATE ? __fadd_rn(*o, total) : total;
        }
    }
}

// qs_gemv_bf16_tc_n{N} and _acc (out[j][r] += W[r] . x[j], the projection and the residual add of a pass in one
// kernel: bitwise the plain entry then qs_add_inplace); out must not alias W or x.
#define QS_GEMV_TC_ENTRY(N)                                                                                      \
    extern "C" __global__ void __launch_bounds__(QS_TC_GEMV_THREADS)                                             \
        qs_gemv_bf16_tc_n##N(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,                  \
                             float* __restrict__ out, int rows, int cols) {                                     \
        qs_gemv_bf16_tc_body<N, false>(W, x, out, rows, cols);                                                   \
    }                                                                                                            \
    extern "C" __global__ void __launch_bounds__(QS_TC_GEMV_THREADS)                                             \
        qs_gemv_bf16_tc_n##N##_acc(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,            \
                                   float* __restrict__ out, int rows, int cols) {                               \
        qs_gemv_bf16_tc_body<N, true>(W, x, out, rows, cols);                                                    \
    }

QS_GEMV_TC_ENTRY(1)
QS_GEMV_TC_ENTRY(2)
QS_GEMV_TC_ENTRY(3)
QS_GEMV_TC_ENTRY(4)
QS_GEMV_TC_ENTRY(5)
QS_GEMV_TC_ENTRY(6)
QS_GEMV_TC_ENTRY(7)
QS_GEMV_TC_ENTRY(8)
