// Round-3 experiment kept for the harness (bench-results/h200-2026-11-29-gemv-round3.md): a persistent-grid,
// whole-x, register double-buffered 4-bit GEMV. It was 10-20% SLOWER than qs_q4_gemv_h2_body in every shape
// (64 KB of codes in flight per SM for every register budget tried vs ~96 KB for the chunked kernel), so the
// engine does not launch it; the fused entries use qs_q4_gemv_h2_body instead.
#pragma once
#include "../src/main/cuda/q4gemv.cuh"
// ------------------------------------------------------------------------------------------------
// Round 3 (2026-11-29): the draft pass's 4-bit GEMVs as they run inside a graph with programmatic
// dependent launch, and the small kernels around them fused in.
//
// qs_q4_gemv_h3_body: the per-piece arithmetic and the per-lane order of qs_q4_gemv_h2_body (lane l takes
// pieces l, l + 32, l + 64, ... of each of its rows in increasing order; the same x staging, the same two
// fmaf per piece and row, the same warp sum), so a plain or _acc entry gives the bits of the h2 entries.
// What changes is the schedule:
//  - x is staged ONCE per block, whole (dynamic shared memory, 72 bytes per 32-value piece: cols <=
//    Q4_H3_MAX_COLS for 48 KB), so there is one barrier per block instead of one per chunk;
//  - the grid is at most the resident blocks (BPS per SM x SMs, the host sizes it) and each warp walks row
//    groups gridDim.x * WARPS apart ("steps" of UNROLL pieces per lane for its ROWS rows), with the codes and
//    params of the next step loaded before the current step's math (two register buffers), so every warp
//    always has a step in flight; the first step's loads are issued before the wait for the prior grid;
//  - griddepcontrol.launch_dependents right after those first loads: the next kernel in the stream (when it
//    is launched programmatically) may become resident as soon as SMs free up and stream its own weights
//    while this grid finishes. It changes no ordering of data: every dependent still waits (qs_wait_prior_grid)
//    for this grid's completion before it touches activations, and this grid completes only after its own
//    wait for its predecessor.
// Fusions (XMODE, OMODE):
//  - XMODE NORM: x is the fp32 residual stream and the entry multiplies by RMSNorm(x) * weight (weight bf16
//    [cols], as qs_rmsnorm): the block stages y = x * weight (fp32 product), every thread also sums x^2 over
//    the words it stages, the per-warp partials go through shared memory with the staging barrier, and each
//    row's result is total * inv, inv = rsqrtf(sum(x^2) / cols + eps) (qs_rmsnorm's formula; the sum's order
//    differs). Exact identity: W . (x inv w) = inv (W . (x w)); rounding differs from qs_rmsnorm + GEMV (one
//    fp32 rounding of x w, the fp32 sum of squares, inv applied to the fp32 total), see DeviceQ4MatrixGpuTest
//    for the bound.
//  - OMODE SWIGLU: the matrix is [gate; up] (rows = 2 ffn, gate rows first, as the engine's fused gate/up
//    weight), a warp's ROWS rows are ROWS/2 gate rows j and the up rows ffn + j, and lane 0 writes
//    out[j] = qs_silu_mul(gate_j, up_j) (elementwise.cuh, the qs_swiglu_rows math) into out fp32 [ffn]:
//    bitwise the same entry without SWIGLU into gateUp followed by qs_swiglu_rows.
//  - OMODE ACC: out[r] += total (the _acc entries).
// grid: min(ceil(groups / WARPS), BPS * SMs) with groups = ceil(rows / ROWS) (SWIGLU: ceil(ffn / (ROWS/2))),
// block THREADS, dynamic shared memory Q4_H3_SMEM(cols) bytes. Any grid >= 1 is correct.
// ------------------------------------------------------------------------------------------------
#include "../src/main/cuda/elementwise.cuh"

constexpr int Q4_H3_THREADS = 256;
constexpr int Q4_H3_MAX_COLS = 21824;  // 682 pieces x 72 bytes <= 48 KB of dynamic shared memory
// QS_Q4_X_*, QS_Q4_OUT_*, qs_launch_dependents: q4gemv.cuh

template <int THREADS, int ROWS, int UNROLL, int XMODE, int OMODE, bool TRIGGER = true>
__device__ __forceinline__ void qs_q4_gemv_h3_body(const uint8_t* __restrict__ codes,
                                                   const float2* __restrict__ params,
                                                   const float* __restrict__ x,
                                                   const __nv_bfloat16* __restrict__ normWeight, float eps,
                                                   float* __restrict__ out, int rows, int cols, int rowStride,
                                                   int groupsPerRow, int piecesPerGroup) {
    static_assert(OMODE != QS_Q4_OUT_SWIGLU || ROWS % 2 == 0, "SwiGLU pairs gate and up rows in a warp");
    constexpr int WARPS = THREADS / 32;
    constexpr int STEP = UNROLL * 32;  // pieces per row and step
    constexpr int HALF = OMODE == QS_Q4_OUT_SWIGLU ? ROWS / 2 : ROWS;  // distinct output indices per group
    extern __shared__ uint4 qs_q4_h3_smem[];
    __shared__ float sumSqWarp[WARPS];
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    uint4* xh = qs_q4_h3_smem;                                              // [pieces * 4]
    float2* xinfo = reinterpret_cast<float2*>(qs_q4_h3_smem + pieces * 4);  // [pieces]
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int outs = OMODE == QS_Q4_OUT_SWIGLU ? rows / 2 : rows;  // ffn for SwiGLU
    const int groups = (outs + HALF - 1) / HALF;
    const int steps = (pieces + STEP - 1) / STEP;
    const int warpStride = gridDim.x * WARPS;

    // row r of group g (clamped to the group's first row when past the end: loaded, never written)
    auto rowOf = [&](int g, int r) {
        const int j = g * HALF + (r % HALF);
        const int jc = j < outs ? j : g * HALF;
        return OMODE == QS_Q4_OUT_SWIGLU && r >= HALF ? outs + jc : jc;
    };
    auto load = [&](int g, int s, uint4 (&c)[ROWS][UNROLL], float2 (&prm)[ROWS][UNROLL]) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const int row = rowOf(g, r);
            const uint4* rp = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
            const float2* pp = params + (size_t)row * groupsPerRow;
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p0 = s * STEP + u * 32;
                const int p = p0 + lane < pieces ? p0 + lane : s * STEP;
                c[r][u] = qs_load_stream16(rp + p);
                prm[r][u] = __ldg(pp + p / piecesPerGroup);
            }
        }
    };

    uint4 cA[ROWS][UNROLL], cB[ROWS][UNROLL];
    float2 pA[ROWS][UNROLL], pB[ROWS][UNROLL];
    int g = blockIdx.x * WARPS + warp, s = 0;
    if (g < groups) load(g, 0, cA, pA);  // the weights: before the wait, overlapping the prior grid's tail
    if (TRIGGER) qs_launch_dependents();
    qs_wait_prior_grid();

    // stage all of x (XMODE NORM: y = x * weight) as in qs_q4_gemv_h2w_body / qs_q4_gemv_h2_body
    const bool vec4 = (cols & 3) == 0;
    const bool wvec = XMODE == QS_Q4_X_NORM && (reinterpret_cast<uintptr_t>(normWeight) & 15) == 0;
    const int words = pieces * 4;
    float sumSq = 0.0f;
    for (int w0 = 0; w0 < words; w0 += THREADS) {
        if (w0 + (int)(threadIdx.x & ~31u) < words) {  // uniform per warp; 4-lane groups all in or all out
            const int W = w0 + threadIdx.x;
            const int col = W * 8;
            float v[8];
            if (vec4 && col + 7 < cols) {
                const float4 a = __ldg(reinterpret_cast<const float4*>(x + col));
                const float4 b = __ldg(reinterpret_cast<const float4*>(x + col + 4));
                v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
            } else {
#pragma unroll
                for (int k = 0; k < 8; ++k) v[k] = col + k < cols ? __ldg(x + col + k) : 0.0f;
            }
            if (XMODE == QS_Q4_X_NORM) {
                float wf[8];
                if (wvec && col + 7 < cols) {
                    qs_bf16x8_to_float(__ldg(reinterpret_cast<const uint4*>(normWeight + col)), wf);
                } else {
#pragma unroll
                    for (int k = 0; k < 8; ++k) wf[k] = col + k < cols ? __bfloat162float(normWeight[col + k]) : 0.0f;
                }
#pragma unroll
                for (int k = 0; k < 8; ++k) {
                    sumSq = fmaf(v[k], v[k], sumSq);
                    v[k] = __fmul_rn(v[k], wf[k]);
                }
            }
            float sm = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
            float m = fmaxf(fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))),
                            fmaxf(fmaxf(fabsf(v[4]), fabsf(v[5])), fmaxf(fabsf(v[6]), fabsf(v[7]))));
            sm += __shfl_xor_sync(QS_FULL_MASK, sm, 1);
            sm += __shfl_xor_sync(QS_FULL_MASK, sm, 2);
            m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 1));
            m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 2));
            const int e = min(max((int)(__float_as_uint(m) >> 23), 7), 254);
            const float sc = __uint_as_float((uint32_t)(260 - e) << 23);   // 2^k, m 2^k < 128
            const float inv = __uint_as_float((uint32_t)(e - 6) << 23);    // 2^-k
            if (W < words) {
                uint4 q;
                q.x = qs_h2_bits(v[0] * sc, v[4] * sc);
                q.y = qs_h2_bits(v[1] * sc, v[5] * sc);
                q.z = qs_h2_bits(v[2] * sc, v[6] * sc);
                q.w = qs_h2_bits(v[3] * sc, v[7] * sc);
                const int P = W >> 2, qi = W & 3;
                xh[P * 4 + (qi ^ ((P >> 1) & 3))] = q;
                if (qi == 0) xinfo[P] = make_float2(sm, inv);
            }
        }
    }
    if (XMODE == QS_Q4_X_NORM) {
        sumSq = qs_warp_sum(sumSq);
        if (lane == 0) sumSqWarp[warp] = sumSq;
    }
    __syncthreads();
    float rms = 1.0f;
    if (XMODE == QS_Q4_X_NORM) {
        float total = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; ++w) total += sumSqWarp[w];  // the same order in every block
        rms = rsqrtf(total / (float)cols + eps);
    }
    if (g >= groups) return;  // no barrier after this point

    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) acc[r] = 0.0f;
    auto compute = [&](int g, int s, const uint4 (&c)[ROWS][UNROLL], const float2 (&prm)[ROWS][UNROLL]) {
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int P = s * STEP + u * 32 + lane;
            if (P < pieces) {
                const int sw = (P >> 1) & 3;
                const uint4 x0 = xh[P * 4 + (0 ^ sw)];
                const uint4 x1 = xh[P * 4 + (1 ^ sw)];
                const uint4 x2 = xh[P * 4 + (2 ^ sw)];
                const uint4 x3 = xh[P * 4 + (3 ^ sw)];
                const float2 info = xinfo[P];
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    __half2 h = qs_u32_as_h2(0u);
                    h = qs_q4_word_h2(c[r][u].x, x0, h);
                    h = qs_q4_word_h2(c[r][u].y, x1, h);
                    h = qs_q4_word_h2(c[r][u].z, x2, h);
                    h = qs_q4_word_h2(c[r][u].w, x3, h);
                    const float2 f = __half22float2(h);
                    acc[r] = fmaf(prm[r][u].x * info.y, f.x + f.y, acc[r]);
                    acc[r] = fmaf(prm[r][u].y, info.x, acc[r]);
                }
            }
        }
        if (s == steps - 1) {  // the group's last step: reduce and write (uniform per warp)
            float total[ROWS];
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                total[r] = qs_warp_sum(acc[r]);
                if (XMODE == QS_Q4_X_NORM) total[r] *= rms;
                acc[r] = 0.0f;
            }
            if (lane == 0) {
#pragma unroll
                for (int r = 0; r < HALF; ++r) {
                    const int j = g * HALF + r;
                    if (j < outs) {
                        if (OMODE == QS_Q4_OUT_SWIGLU) out[j] = qs_silu_mul(total[r], total[r + HALF]);
                        else if (OMODE == QS_Q4_OUT_ACC) out[j] = out[j] + total[r];
                        else out[j] = total[r];
                    }
                }
            }
        }
    };
    // two register buffers: the next step's codes are in flight during this step's math
    for (;;) {
        int gn = g, sn = s + 1;
        if (sn == steps) { sn = 0; gn += warpStride; }
        bool more = gn < groups;
        if (more) load(gn, sn, cB, pB);
        compute(g, s, cA, pA);
        if (!more) break;
        g = gn; s = sn;
        gn = g; sn = s + 1;
        if (sn == steps) { sn = 0; gn += warpStride; }
        more = gn < groups;
        if (more) load(gn, sn, cA, pA);
        compute(g, s, cB, pB);
        if (!more) break;
        g = gn; s = sn;
    }
}

// Q4_H3 dynamic shared memory for cols columns: the staged x (64 bytes) and its (sum, 2^-k) (8 bytes) per piece
#define Q4_H3_SMEM(cols) ((((cols) + 31) / 32) * 72)

// Entries NAME (out = W x), NAME_acc (out += W x), NAME_norm (out = W RMSNorm(x) weight), NAME_norm_swiglu
// (out[j] = silu((W xn)_j) (W xn)_{ffn + j}, rows = 2 ffn), NAME_swiglu (the same on x as is). BPS is the
// number of blocks per SM the launch bounds promise (the host's grid cap).
#define QS_Q4_H3_ENTRY1(NAME, SUFFIX, R, U, BPS, XM, OM)                                             \
    extern "C" __global__ void __launch_bounds__(Q4_H3_THREADS, BPS)                                \
        NAME##SUFFIX(const uint8_t* __restrict__ codes, const float2* __restrict__ params,           \
                     const float* __restrict__ x, const __nv_bfloat16* __restrict__ normWeight,      \
                     float eps, float* __restrict__ out, int rows, int cols, int rowStride,          \
                     int groupsPerRow, int piecesPerGroup) {                                         \
        qs_q4_gemv_h3_body<Q4_H3_THREADS, R, U, XM, OM>(codes, params, x, normWeight, eps, out, rows, \
                                                        cols, rowStride, groupsPerRow, piecesPerGroup); \
    }
#define QS_Q4_H3_ENTRY(NAME, R, U, BPS)                                                   \
    QS_Q4_H3_ENTRY1(NAME, , R, U, BPS, QS_Q4_X_PLAIN, QS_Q4_OUT_STORE)                     \
    QS_Q4_H3_ENTRY1(NAME, _acc, R, U, BPS, QS_Q4_X_PLAIN, QS_Q4_OUT_ACC)                   \
    QS_Q4_H3_ENTRY1(NAME, _norm, R, U, BPS, QS_Q4_X_NORM, QS_Q4_OUT_STORE)                 \
    QS_Q4_H3_ENTRY1(NAME, _swiglu, R, U, BPS, QS_Q4_X_PLAIN, QS_Q4_OUT_SWIGLU)             \
    QS_Q4_H3_ENTRY1(NAME, _norm_swiglu, R, U, BPS, QS_Q4_X_NORM, QS_Q4_OUT_SWIGLU)
