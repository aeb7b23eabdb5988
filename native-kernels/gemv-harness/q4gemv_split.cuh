// Round 4 (2026-11-29): the experiments on q4gemv.cuh's qs_q4_gemv_h2_body that were NOT shipped, in a copy of
// the body (qs_q4_gemv_h2s_body; with SPLIT false and PREFETCH 0 / 1 it is the engine's body):
//  PREFETCH 2: codes and params loaded two chunks ahead (three chunks per warp in registers). Lost to PREFETCH 1
//    (the shipped qs_q4_gemv_h2_r2u2p) in the chain: down +1.0 / +1.2 us per layer (110 vs 80 registers).
//  SPLIT: block (tile, slice) reduces the pieces [slice * slicePieces, ...) of its rows (gridDim.y slices),
//    writes per-row partials into partial [S][rows], and the last block of the row tile to arrive (atomic
//    ticket) sums the S partials in slice order (deterministic) and does the epilogue (store or residual add),
//    then resets the tile's counter (graph replay). Best on down with R4 U1 and 3-4 slices (11.3 / 13.3 us vs
//    13.3 / 15.8 us before), but behind PREFETCH 1 (11.0 / 12.7 us) and 0.4-0.8 us per layer behind it in the
//    chain; slower on o (>= 6.77 vs 5.9 us): more blocks than resident slots or fewer rows sharing each staged x.
// (bench-results/h200-2026-11-29-gemv-round4.md; harnesses gemv_round4.cu, gemv_round4b.cu)
#pragma once
#include "../src/main/cuda/q4gemv.cuh"

template <int THREADS, int ROWS, int UNROLL, int PREFETCH = 0, int OMODE = QS_Q4_OUT_STORE,
          int XMODE = QS_Q4_X_PLAIN, bool TRIGGER = false, bool SPLIT = false>
__device__ __forceinline__ void qs_q4_gemv_h2s_body(const uint8_t* __restrict__ codes,
                                                   const float2* __restrict__ params,
                                                   const float* __restrict__ x, float* __restrict__ out,
                                                   int rows, int cols, int rowStride, int groupsPerRow,
                                                   int piecesPerGroup,
                                                   const __nv_bfloat16* __restrict__ normWeight = nullptr,
                                                   float eps = 0.0f, float* __restrict__ partial = nullptr,
                                                   unsigned* __restrict__ tileCount = nullptr,
                                                   int slicePieces = 0) {
    static_assert(OMODE != QS_Q4_OUT_SWIGLU || ROWS % 2 == 0, "SwiGLU pairs gate and up rows in a warp");
    static_assert(!SPLIT || (XMODE == QS_Q4_X_PLAIN && OMODE != QS_Q4_OUT_SWIGLU), "split-K: plain x, store/acc");
    constexpr int CHUNK = UNROLL * 32;  // pieces per chunk
    constexpr int WORDS = CHUNK * 4;    // 8-code words per chunk (a multiple of 32)
    constexpr int WARPS = THREADS / 32;
    constexpr int HALF = OMODE == QS_Q4_OUT_SWIGLU ? ROWS / 2 : ROWS;  // outputs per warp
    __shared__ uint4 xh[2][WORDS];
    __shared__ float2 xinfo[2][CHUNK];  // (sum of the piece's fp32 x, 2^-k)
    __shared__ float sumSqWarp[XMODE == QS_Q4_X_NORM ? WARPS : 1];
    const int lane = threadIdx.x & 31;
    const int outs = OMODE == QS_Q4_OUT_SWIGLU ? rows / 2 : rows;  // ffn for SwiGLU
    const int row0 = (blockIdx.x * WARPS + (threadIdx.x >> 5)) * HALF;  // first output of the warp
    const bool active = row0 < outs;  // uniform per warp
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    // split-K: this block reduces the pieces [pBegin, pEnd) of its rows (slice blockIdx.y)
    const int pBegin = SPLIT ? (int)blockIdx.y * slicePieces : 0;
    const int pEnd = SPLIT ? min(pieces, pBegin + slicePieces) : pieces;
    const uint4* rowPtr[ROWS];
    const float2* prmPtr[ROWS];
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int j = row0 + (r % HALF);
        int row = j < outs ? j : (active ? row0 : 0);
        if (OMODE == QS_Q4_OUT_SWIGLU && r >= HALF) row += outs;
        rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
        prmPtr[r] = params + (size_t)row * groupsPerRow;
        acc[r] = 0.0f;
    }
    const bool vec4 = (cols & 3) == 0;
    const bool wvec = XMODE == QS_Q4_X_NORM && (reinterpret_cast<uintptr_t>(normWeight) & 15) == 0;
    float sumSq = 0.0f;
    // the codes and params of the chunk starting at piece c0 (PREFETCH: loaded one chunk ahead, so the
    // DRAM reads of chunk i + 1 are in flight during chunk i's barrier and math)
    auto load = [&](int c0, uint4 (&c)[ROWS][UNROLL], float2 (&prm)[ROWS][UNROLL]) {
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p = c0 + u * 32 + lane < pEnd ? c0 + u * 32 + lane : c0;
                const int g = p / piecesPerGroup;
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    c[r][u] = qs_load_stream16(rowPtr[r] + p);
                    prm[r][u] = __ldg(prmPtr[r] + g);
                }
            }
        }
    };
    uint4 c[ROWS][UNROLL], c2[ROWS][UNROLL];  // c2: chunk i + 1 when PREFETCH == 2
    float2 prm[ROWS][UNROLL], prm2[ROWS][UNROLL];
    if (PREFETCH) load(pBegin, c, prm);
    if (PREFETCH == 2 && pBegin + CHUNK < pEnd) load(pBegin + CHUNK, c2, prm2);
    int buf = 0;
    for (int c0 = pBegin; c0 < pEnd; c0 += CHUNK, buf ^= 1) {
        if (!PREFETCH) load(c0, c, prm);
        if (c0 == pBegin) {
            if (TRIGGER) qs_launch_dependents();
            qs_wait_prior_grid();  // the first codes are in flight; x comes from the last kernel
        }
        // stage x[c0 * 32, (c0 + CHUNK) * 32) as WORDS uint4 of half2 pairs (zeros past cols)
#pragma unroll
        for (int w0 = 0; w0 < WORDS; w0 += THREADS) {
            const int W = w0 + threadIdx.x;
            if (WORDS % THREADS == 0 || W < WORDS) {  // uniform per warp (WORDS is a multiple of 32)
                const int col = c0 * Q4_PIECE + W * 8;
                float v[8];
                if (vec4 && col + 7 < cols) {
                    const float4 a = __ldg(reinterpret_cast<const float4*>(x + col));
                    const float4 b = __ldg(reinterpret_cast<const float4*>(x + col + 4));
                    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
                } else {
#pragma unroll
                    for (int k = 0; k < 8; ++k) v[k] = col + k < cols ? __ldg(x + col + k) : 0.0f;
                }
                if (XMODE == QS_Q4_X_NORM) {  // y = x * weight; sum of x^2 for the norm
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
                float s = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
                float m = fmaxf(fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))),
                                fmaxf(fmaxf(fabsf(v[4]), fabsf(v[5])), fmaxf(fabsf(v[6]), fabsf(v[7]))));
                s += __shfl_xor_sync(QS_FULL_MASK, s, 1);
                s += __shfl_xor_sync(QS_FULL_MASK, s, 2);
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 1));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 2));
                // k = 133 - e (e = biased exponent of m, clamped to [7, 254]): m 2^k < 128
                const int e = min(max((int)(__float_as_uint(m) >> 23), 7), 254);
                const float sc = __uint_as_float((uint32_t)(260 - e) << 23);   // 2^k
                const float inv = __uint_as_float((uint32_t)(e - 6) << 23);    // 2^-k
                uint4 q;
                q.x = qs_h2_bits(v[0] * sc, v[4] * sc);
                q.y = qs_h2_bits(v[1] * sc, v[5] * sc);
                q.z = qs_h2_bits(v[2] * sc, v[6] * sc);
                q.w = qs_h2_bits(v[3] * sc, v[7] * sc);
                const int P = W >> 2, qi = W & 3;
                xh[buf][P * 4 + (qi ^ ((P >> 1) & 3))] = q;
                if (qi == 0) xinfo[buf][P] = make_float2(s, inv);
            }
        }
        __syncthreads();
        uint4 cn[ROWS][UNROLL];
        float2 prmn[ROWS][UNROLL];
        if (PREFETCH && c0 + PREFETCH * CHUNK < pEnd) load(c0 + PREFETCH * CHUNK, cn, prmn);
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int P = u * 32 + lane;
                if (c0 + P < pEnd) {
                    const int sw = (P >> 1) & 3;
                    const uint4 x0 = xh[buf][P * 4 + (0 ^ sw)];
                    const uint4 x1 = xh[buf][P * 4 + (1 ^ sw)];
                    const uint4 x2 = xh[buf][P * 4 + (2 ^ sw)];
                    const uint4 x3 = xh[buf][P * 4 + (3 ^ sw)];
                    const float2 info = xinfo[buf][P];
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
        }
        if (PREFETCH) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    if (PREFETCH == 2) {
                        c[r][u] = c2[r][u]; prm[r][u] = prm2[r][u];
                        c2[r][u] = cn[r][u]; prm2[r][u] = prmn[r][u];
                    } else {
                        c[r][u] = cn[r][u]; prm[r][u] = prmn[r][u];
                    }
                }
        }
    }
    float rms = 1.0f;
    if (XMODE == QS_Q4_X_NORM) {  // every thread of the block gets here (the chunk loop is uniform)
        sumSq = qs_warp_sum(sumSq);
        if (lane == 0) sumSqWarp[threadIdx.x >> 5] = sumSq;
        __syncthreads();
        float total = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; ++w) total += sumSqWarp[w];
        rms = rsqrtf(total / (float)cols + eps);
    }
    if (active) {
        float total[ROWS];
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            total[r] = qs_warp_sum(acc[r]);
            if (XMODE == QS_Q4_X_NORM) total[r] *= rms;
        }
        if (SPLIT) {
            if (lane == 0) {
#pragma unroll
                for (int r = 0; r < HALF; ++r)
                    if (row0 + r < outs) partial[(size_t)blockIdx.y * outs + row0 + r] = total[r];
            }
        } else if (lane == 0) {
#pragma unroll
            for (int r = 0; r < HALF; ++r) {
                const int j = row0 + r;
                if (j < outs) {
                    if (OMODE == QS_Q4_OUT_SWIGLU) out[j] = qs_silu_mul(total[r], total[r + HALF]);
                    else if (OMODE == QS_Q4_OUT_ACC) out[j] = out[j] + total[r];
                    else out[j] = total[r];
                }
            }
        }
    }
    if (SPLIT) {
        // The last block of the row tile to finish (ticket S - 1 of the tile's counter) sums the S partials
        // of each row in slice order, so the result does not depend on which block came last; it resets the
        // counter for the next launch (graph replay). threadfence before the ticket publishes this block's
        // partials; the one after it orders the last block's reads (L2, __ldcg) after every ticket.
        __shared__ bool lastBlock;
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0) lastBlock = atomicAdd(tileCount + blockIdx.x, 1u) == gridDim.y - 1;
        __syncthreads();
        if (!lastBlock) return;
        __threadfence();
        for (int i = threadIdx.x; i < WARPS * HALF; i += THREADS) {
            const int j = blockIdx.x * WARPS * HALF + i;
            if (j < outs) {
                float t = __ldcg(partial + j);
                for (int sl = 1; sl < (int)gridDim.y; ++sl) t += __ldcg(partial + (size_t)sl * outs + j);
                out[j] = OMODE == QS_Q4_OUT_ACC ? out[j] + t : t;
            }
        }
        if (threadIdx.x == 0) tileCount[blockIdx.x] = 0;
    }
}

