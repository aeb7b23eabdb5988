// Matrix-vector product for decode at batch 1: out[r] = sum_c W[r][c] * x[c].
//   W   bf16 [rows][cols]  (row-major, the Hugging Face nn.Linear layout)
//   x   fp32 [cols]        (16-byte aligned)
//   out fp32 [rows]
// A decode step is bound by reading the weights once, so the kernel is built to keep as many
// 16-byte weight loads in flight as possible: each warp owns ROWS_PER_WARP rows, each lane loads
// UNROLL 16-byte pieces of every one of its rows before it uses any of them, and the row sums are
// finished with warp shuffles (no shared memory, no block-wide barrier).
#pragma once
#include "common.cuh"

// Threads per block. Four warps keep blocks small, so the rows spread evenly over the 132 SMs of an
// H200 even for 4096-row matrices (1024 blocks at one row per warp).
constexpr int GEMV_THREADS = 128;
constexpr int GEMV_WARPS = GEMV_THREADS / 32;

// ROWS_PER_WARP: rows one warp reduces together; each x piece loaded is reused for all of them.
// UNROLL:        16-byte pieces per row a lane loads before its first FMA (loads in flight).
// ACCUMULATE:    out[r] = out[r] + sum (the residual add of qs_add_inplace, x[i] += y[i], fused into
//                the store: the same single fp32 add of the same operands, so bitwise the GEMV then
//                qs_add_inplace); false: out[r] = sum. The sum itself is computed identically.
template <int ROWS_PER_WARP, int UNROLL, bool ACCUMULATE = false>
__device__ __forceinline__ void qs_gemv_bf16_body(const __nv_bfloat16* __restrict__ W,
                                                  const float* __restrict__ x,
                                                  float* __restrict__ out, int rows, int cols) {
    const int lane = threadIdx.x & 31;
    const int warpGlobal = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    const int row0 = warpGlobal * ROWS_PER_WARP;
    if (row0 >= rows) return;  // uniform across the warp: no shuffle below runs half-empty

    float acc[ROWS_PER_WARP];
    const __nv_bfloat16* rowPtr[ROWS_PER_WARP];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
        acc[r] = 0.0f;
        // Rows past the end re-read row0 (always valid) and are discarded at the store.
        const int row = row0 + r < rows ? row0 + r : row0;
        rowPtr[r] = W + (size_t)row * cols;
    }

    if ((cols & 7) == 0) {
        // Every row starts on a 16-byte boundary: vector path.
        const int pieces = cols >> 3;  // 8 bf16 per 16-byte piece
        int p = lane;
        for (; p + (UNROLL - 1) * 32 < pieces; p += UNROLL * 32) {
            uint4 w[ROWS_PER_WARP][UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
#pragma unroll
                for (int r = 0; r < ROWS_PER_WARP; ++r)
                    w[r][u] = qs_load_stream16(rowPtr[r] + (size_t)(p + u * 32) * 8);
            if (p == lane) qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const float4* xp = reinterpret_cast<const float4*>(x + (p + u * 32) * 8);
                const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
                const float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
                for (int r = 0; r < ROWS_PER_WARP; ++r) {
                    float wf[8];
                    qs_bf16x8_to_float(w[r][u], wf);
#pragma unroll
                    for (int i = 0; i < 8; ++i) acc[r] = fmaf(wf[i], xv[i], acc[r]);
                }
            }
        }
        qs_wait_prior_grid();  // lanes that had no full step wait here (a no-op for the others)
        for (; p < pieces; p += 32) {  // the remainder, one piece at a time
            const float4* xp = reinterpret_cast<const float4*>(x + p * 8);
            const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
            const float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; ++r) {
                float wf[8];
                qs_bf16x8_to_float(qs_load_stream16(rowPtr[r] + (size_t)p * 8), wf);
#pragma unroll
                for (int i = 0; i < 8; ++i) acc[r] = fmaf(wf[i], xv[i], acc[r]);
            }
        }
    } else {
        // Rows are not 16-byte aligned (cols % 8 != 0; no real model has this): scalar path.
        qs_wait_prior_grid();
        for (int c = lane; c < cols; c += 32) {
            const float xc = x[c];
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; ++r)
                acc[r] = fmaf(__bfloat162float(rowPtr[r][c]), xc, acc[r]);
        }
    }

    qs_wait_prior_grid();  // a no-op after the loops' waits; keeps the store after it on every path
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
        const float total = qs_warp_sum(acc[r]);
        if (lane == 0 && row0 + r < rows) {
            if (ACCUMULATE) {
                out[row0 + r] = __fadd_rn(out[row0 + r], total);
            } else {
                out[row0 + r] = total;
            }
        }
    }
}

// The instantiations the host may launch; grid = ceil(rows / (GEMV_WARPS * ROWS_PER_WARP)),
// block = GEMV_THREADS. The benchmark times them all at the real shapes; the host picks one.
#define QS_GEMV_ENTRY(NAME, R, U)                                                              \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,                 \
             float* __restrict__ out, int rows, int cols) {                                    \
        qs_gemv_bf16_body<R, U>(W, x, out, rows, cols);                                        \
    }

QS_GEMV_ENTRY(qs_gemv_bf16_r1, 1, 4)
QS_GEMV_ENTRY(qs_gemv_bf16_r2, 2, 4)
QS_GEMV_ENTRY(qs_gemv_bf16_r4, 4, 2)

// out[r] += W[r] . x (a projection plus the residual connection in one kernel; the decode step's
// o and down projections). out must not alias W or x. Same grid and block as qs_gemv_bf16_r*.
#define QS_GEMV_ACC_ENTRY(NAME, R, U)                                                          \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,                 \
             float* __restrict__ out, int rows, int cols) {                                    \
        qs_gemv_bf16_body<R, U, true>(W, x, out, rows, cols);                                  \
    }

QS_GEMV_ACC_ENTRY(qs_gemv_bf16_r1_acc, 1, 4)
QS_GEMV_ACC_ENTRY(qs_gemv_bf16_r2_acc, 2, 4)
QS_GEMV_ACC_ENTRY(qs_gemv_bf16_r4_acc, 4, 2)

// ------------------------------------------------------------------------------------------------
// Multi-vector GEMV for a verify pass: out[j][r] = sum_c W[r][c] * x[j][c] for j < NV, the weights
// read once for all NV vectors.
//   W bf16 [rows][cols], x fp32 [NV][cols] (row j at x + j * cols), out fp32 [NV][rows].
// Batch-invariant: every (j, r) is accumulated exactly as qs_gemv_bf16_body accumulates (r) for a
// single vector: lane l takes the 16-byte pieces l, l + 32, l + 64, ... in order, 8 FMAs per piece
// in element order (the scalar path: columns l, l + 32, ...), then the same xor-shuffle warp sum.
// The unroll and the rows per warp only change which loads are in flight, never that order (the
// r1/r2/r4 single-vector kernels already share it), so out[j] is bitwise the n = 1 result on x[j].
// x rows are re-read from L1 for each weight piece (NV * 32 bytes per 16 weight bytes per warp
// row group), so more vectors share each x load by reducing ROWS_PER_WARP rows together.
// grid: ceil(rows / (GEMV_WARPS * ROWS_PER_WARP)), block GEMV_THREADS.
// ------------------------------------------------------------------------------------------------
template <int NV, int ROWS_PER_WARP, int UNROLL, bool ACCUMULATE = false>
__device__ __forceinline__ void qs_gemv_bf16_multi_body(const __nv_bfloat16* __restrict__ W,
                                                        const float* __restrict__ x,
                                                        float* __restrict__ out, int rows, int cols) {
    const int lane = threadIdx.x & 31;
    const int warpGlobal = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    const int row0 = warpGlobal * ROWS_PER_WARP;
    if (row0 >= rows) return;

    float acc[NV][ROWS_PER_WARP];
    const __nv_bfloat16* rowPtr[ROWS_PER_WARP];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
#pragma unroll
        for (int j = 0; j < NV; ++j) acc[j][r] = 0.0f;
        const int row = row0 + r < rows ? row0 + r : row0;
        rowPtr[r] = W + (size_t)row * cols;
    }

    if ((cols & 7) == 0) {
        const int pieces = cols >> 3;
        for (int p0 = lane; p0 < pieces; p0 += UNROLL * 32) {
            uint4 w[ROWS_PER_WARP][UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
#pragma unroll
                for (int r = 0; r < ROWS_PER_WARP; ++r) {
                    const int p = p0 + u * 32 < pieces ? p0 + u * 32 : p0;  // past the end: never used
                    w[r][u] = qs_load_stream16(rowPtr[r] + (size_t)p * 8);
                }
            if (p0 == lane) qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p = p0 + u * 32;
                if (p < pieces) {
                    float wf[ROWS_PER_WARP][8];
#pragma unroll
                    for (int r = 0; r < ROWS_PER_WARP; ++r) qs_bf16x8_to_float(w[r][u], wf[r]);
#pragma unroll
                    for (int j = 0; j < NV; ++j) {
                        const float4* xp = reinterpret_cast<const float4*>(x + (size_t)j * cols + (size_t)p * 8);
                        const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
                        const float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
                        for (int r = 0; r < ROWS_PER_WARP; ++r)
#pragma unroll
                            for (int i = 0; i < 8; ++i) acc[j][r] = fmaf(wf[r][i], xv[i], acc[j][r]);
                    }
                }
            }
        }
    } else {
        qs_wait_prior_grid();
        for (int c = lane; c < cols; c += 32) {
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; ++r) {
                const float wc = __bfloat162float(rowPtr[r][c]);
#pragma unroll
                for (int j = 0; j < NV; ++j) acc[j][r] = fmaf(wc, x[(size_t)j * cols + c], acc[j][r]);
            }
        }
    }

    qs_wait_prior_grid();  // lanes that had no piece (a no-op for the others): out is written below
#pragma unroll
    for (int j = 0; j < NV; ++j)
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; ++r) {
            const float total = qs_warp_sum(acc[j][r]);
            if (lane == 0 && row0 + r < rows) {
                float* o = out + (size_t)j * rows + row0 + r;
                *o = ACCUMULATE ? *o + total : total;
            }
        }
}


// ------------------------------------------------------------------------------------------------
// Multi-vector GEMV with x staged in shared memory (2026-11-29 tuning). In qs_gemv_bf16_multi_body a
// lane reads its piece's 32 bytes of x[j] as two 16-byte loads at a 32-byte lane stride: each load of
// a warp touches 8 lines, 16 L1 wavefronts per vector per piece-step, against 4 for a 16-byte weight
// load, so at N = 5 the x reads, not DRAM, bound the kernel. Here the block stages the x pieces of a
// chunk (UNROLL * 32 pieces, all NV vectors) with coalesced loads into shared memory laid out
// [j][half][piece] (float4), so a lane's two reads per vector are conflict-free (4 wavefronts each) and
// each x byte comes from L1/L2 once per block instead of once per warp. One barrier per chunk (double
// buffer); warps past the last row stay for the barriers.
// The arithmetic is qs_gemv_bf16_multi_body's, in its order: lane l takes pieces l, l + 32, ... in order,
// 8 FMAs per piece in element order, then qs_warp_sum; so out[j] is bitwise the n = 1 result on x[j].
// cols % 8 != 0 falls back to the multi body's scalar path. grid: ceil(rows / (GEMV_WARPS * ROWS_PER_WARP)),
// block GEMV_THREADS.
// ------------------------------------------------------------------------------------------------
template <int NV, int ROWS_PER_WARP, int UNROLL, bool ACCUMULATE = false>
__device__ __forceinline__ void qs_gemv_bf16_smem_body(const __nv_bfloat16* __restrict__ W,
                                                       const float* __restrict__ x,
                                                       float* __restrict__ out, int rows, int cols) {
    constexpr int CHUNK = UNROLL * 32;  // pieces per chunk
    __shared__ float4 xs[2][NV][2][CHUNK];
    if ((cols & 7) != 0) {  // uniform: the barrier-free scalar path
        qs_gemv_bf16_multi_body<NV, ROWS_PER_WARP, UNROLL, ACCUMULATE>(W, x, out, rows, cols);
        return;
    }
    const int lane = threadIdx.x & 31;
    const int warpGlobal = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    const int row0 = warpGlobal * ROWS_PER_WARP;
    const bool active = row0 < rows;  // uniform per warp

    float acc[NV][ROWS_PER_WARP];
    const __nv_bfloat16* rowPtr[ROWS_PER_WARP];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
#pragma unroll
        for (int j = 0; j < NV; ++j) acc[j][r] = 0.0f;
        const int row = row0 + r < rows ? row0 + r : (active ? row0 : 0);
        rowPtr[r] = W + (size_t)row * cols;
    }
    const int pieces = cols >> 3;
    int buf = 0;
    for (int c0 = 0; c0 < pieces; c0 += CHUNK, buf ^= 1) {
        uint4 w[ROWS_PER_WARP][UNROLL];
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
#pragma unroll
                for (int r = 0; r < ROWS_PER_WARP; ++r) {
                    const int p = c0 + u * 32 + lane < pieces ? c0 + u * 32 + lane : c0;
                    w[r][u] = qs_load_stream16(rowPtr[r] + (size_t)p * 8);
                }
        }
        if (c0 == 0) qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
        // stage x[j][c0 * 8, (c0 + CHUNK) * 8) for every j: NV * CHUNK * 2 float4
        for (int f = threadIdx.x; f < NV * CHUNK * 2; f += GEMV_THREADS) {
            const int j = f / (CHUNK * 2);
            const int rem = f - j * (CHUNK * 2);
            const int piece = c0 + (rem >> 1);
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (piece < pieces) v = __ldg(reinterpret_cast<const float4*>(x + (size_t)j * cols + (size_t)c0 * 8) + rem);
            xs[buf][j][rem & 1][rem >> 1] = v;
        }
        __syncthreads();
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int P = u * 32 + lane;
                if (c0 + P < pieces) {
                    float wf[ROWS_PER_WARP][8];
#pragma unroll
                    for (int r = 0; r < ROWS_PER_WARP; ++r) qs_bf16x8_to_float(w[r][u], wf[r]);
#pragma unroll
                    for (int j = 0; j < NV; ++j) {
                        const float4 x0 = xs[buf][j][0][P], x1 = xs[buf][j][1][P];
                        const float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
                        for (int r = 0; r < ROWS_PER_WARP; ++r)
#pragma unroll
                            for (int i = 0; i < 8; ++i) acc[j][r] = fmaf(wf[r][i], xv[i], acc[j][r]);
                    }
                }
            }
        }
    }
    if (active) {
#pragma unroll
        for (int j = 0; j < NV; ++j)
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; ++r) {
                const float total = qs_warp_sum(acc[j][r]);
                if (lane == 0 && row0 + r < rows) {
                    float* o = out + (size_t)j * rows + row0 + r;
                    *o = ACCUMULATE ? *o + total : total;
                }
            }
    }
}

// Entry points of the multi-vector GEMV (CudaKernels.gemvBf16Rows picks by n and shape; grid
// ceil(rows / (GEMV_WARPS * R)), block GEMV_THREADS). Chosen on an H200 on 2026-11-29
// (bench-results/h200-2026-11-29-gemv-tuning.md): every variant is bitwise the n = 1 result.
//   n1           x in shared memory, R 2, U 4: 0.95-1.0x the best single-vector kernel at every shape
//   n2           R 2, U 4 (unchanged: within 5% of the best measured at every shape)
//   n3 .. n9     R 4, U 1: at n = 5 1.2-1.4x faster than the former R 2, U 2; n != 5 not measured
//   n5_r8u1      R 8, U 1: n = 5 at 8192 < rows <= 24576 (Llama-2-7B qkv and gate/up)
//   n5_r4u2      R 4, U 2: n = 5 at every other shape (o, down, Llama-3.1-8B qkv and gate/up, lm heads)
// The n = 5 choice is from a 32-layer verification-pass chain in one CUDA graph with programmatic launch
// (gemv-harness/verify_chain.cu, H200, 2026-11-29 19:25 UTC): 1.07x the isolated tuning's R8 U2 / R4 U1 picks,
// whose o and down ran 128 blocks of R 8 at ~48% of the copy rate inside a pass.
// Each entry NAME also has NAME_acc: out[j][r] += W[r] . x[j] (the projection and the residual add of a
// pass in one kernel; bitwise the plain entry into a scratch vector followed by qs_add_inplace, since the
// same total meets the same single fp32 add). out must not alias W or x.
#define QS_GEMV_MULTI_ENTRY(NAME, NV, R, U)                                                     \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,                 \
             float* __restrict__ out, int rows, int cols) {                                    \
        qs_gemv_bf16_multi_body<NV, R, U>(W, x, out, rows, cols);                              \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME##_acc(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,           \
                   float* __restrict__ out, int rows, int cols) {                              \
        qs_gemv_bf16_multi_body<NV, R, U, true>(W, x, out, rows, cols);                        \
    }
#define QS_GEMV_SMEM_ENTRY(NAME, NV, R, U)                                                      \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,                 \
             float* __restrict__ out, int rows, int cols) {                                    \
        qs_gemv_bf16_smem_body<NV, R, U>(W, x, out, rows, cols);                               \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(GEMV_THREADS)                                 \
        NAME##_acc(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,           \
                   float* __restrict__ out, int rows, int cols) {                              \
        qs_gemv_bf16_smem_body<NV, R, U, true>(W, x, out, rows, cols);                         \
    }

QS_GEMV_SMEM_ENTRY(qs_gemv_bf16_n1, 1, 2, 4)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n2, 2, 2, 4)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n3, 3, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n4, 4, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n5, 5, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n6, 6, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n7, 7, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n8, 8, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n9, 9, 4, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n5_r8u1, 5, 8, 1)
QS_GEMV_MULTI_ENTRY(qs_gemv_bf16_n5_r4u2, 5, 4, 2)
