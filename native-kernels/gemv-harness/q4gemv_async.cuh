// Round 3 experiment: qs_q4_gemv_h2_body with the codes and params brought in by cp.async into a per-thread
// shared-memory ring of STAGES chunks instead of registers, so that more bytes are in flight per SM than the
// register file allows (the chunked kernel holds ~96 KB of codes per SM in registers at R4 U2, 3 blocks/SM).
// Each thread reads back only the ring slots it filled itself, so cp.async.wait_group alone orders them (no
// barrier for the ring); x is staged per chunk as in qs_q4_gemv_h2_body (double buffer, one barrier per chunk).
// Same per-lane piece order and arithmetic as qs_q4_gemv_h2_body: the same bits.
#pragma once
#include "../src/main/cuda/q4gemv.cuh"

__device__ __forceinline__ void qs_cp_async16(void* smem, const void* gmem) {
    const uint32_t s = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void qs_cp_async8(void* smem, const void* gmem) {
    const uint32_t s = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void qs_cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void qs_cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

template <int THREADS, int ROWS, int UNROLL, int STAGES, int OMODE = QS_Q4_OUT_STORE, int XMODE = QS_Q4_X_PLAIN,
          bool TRIGGER = false>
__device__ __forceinline__ void qs_q4_gemv_h2a_body(const uint8_t* __restrict__ codes,
                                                    const float2* __restrict__ params,
                                                    const float* __restrict__ x, float* __restrict__ out,
                                                    int rows, int cols, int rowStride, int groupsPerRow,
                                                    int piecesPerGroup,
                                                    const __nv_bfloat16* __restrict__ normWeight = nullptr,
                                                    float eps = 0.0f) {
    static_assert(OMODE != QS_Q4_OUT_SWIGLU || ROWS % 2 == 0, "SwiGLU pairs gate and up rows in a warp");
    constexpr int CHUNK = UNROLL * 32;
    constexpr int WORDS = CHUNK * 4;
    constexpr int WARPS = THREADS / 32;
    constexpr int HALF = OMODE == QS_Q4_OUT_SWIGLU ? ROWS / 2 : ROWS;
    __shared__ uint4 xh[2][WORDS];
    __shared__ float2 xinfo[2][CHUNK];
    __shared__ float sumSqWarp[XMODE == QS_Q4_X_NORM ? WARPS : 1];
    __shared__ uint4 ringC[STAGES][ROWS][UNROLL][THREADS];
    __shared__ float2 ringP[STAGES][ROWS][UNROLL][THREADS];
    const int lane = threadIdx.x & 31;
    const int outs = OMODE == QS_Q4_OUT_SWIGLU ? rows / 2 : rows;
    const int row0 = (blockIdx.x * WARPS + (threadIdx.x >> 5)) * HALF;
    const bool active = row0 < outs;
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    const int chunks = (pieces + CHUNK - 1) / CHUNK;
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
    auto issue = [&](int chunk) {  // one commit group per chunk, empty past the end (uniform counting)
        if (active && chunk < chunks) {
            const int c0 = chunk * CHUNK;
            const int st = chunk % STAGES;
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p = c0 + u * 32 + lane < pieces ? c0 + u * 32 + lane : c0;
                const int g = p / piecesPerGroup;
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    qs_cp_async16(&ringC[st][r][u][threadIdx.x], rowPtr[r] + p);
                    qs_cp_async8(&ringP[st][r][u][threadIdx.x], prmPtr[r] + g);
                }
            }
        }
        qs_cp_async_commit();
    };
#pragma unroll
    for (int i = 0; i < STAGES - 1; ++i) issue(i);
    if (TRIGGER) qs_launch_dependents();
    qs_wait_prior_grid();
    int buf = 0;
    for (int chunk = 0; chunk < chunks; ++chunk, buf ^= 1) {
        issue(chunk + STAGES - 1);  // into the slot this thread read in the previous iteration
        const int c0 = chunk * CHUNK;
#pragma unroll
        for (int w0 = 0; w0 < WORDS; w0 += THREADS) {
            const int W = w0 + threadIdx.x;
            if (WORDS % THREADS == 0 || W < WORDS) {
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
                float s = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
                float m = fmaxf(fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))),
                                fmaxf(fmaxf(fabsf(v[4]), fabsf(v[5])), fmaxf(fabsf(v[6]), fabsf(v[7]))));
                s += __shfl_xor_sync(QS_FULL_MASK, s, 1);
                s += __shfl_xor_sync(QS_FULL_MASK, s, 2);
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 1));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 2));
                const int e = min(max((int)(__float_as_uint(m) >> 23), 7), 254);
                const float sc = __uint_as_float((uint32_t)(260 - e) << 23);
                const float inv = __uint_as_float((uint32_t)(e - 6) << 23);
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
        qs_cp_async_wait<STAGES - 1>();  // this thread's copies of `chunk` have landed
        if (active) {
            const int st = chunk % STAGES;
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int P = u * 32 + lane;
                if (c0 + P < pieces) {
                    const int sw = (P >> 1) & 3;
                    const uint4 x0 = xh[buf][P * 4 + (0 ^ sw)];
                    const uint4 x1 = xh[buf][P * 4 + (1 ^ sw)];
                    const uint4 x2 = xh[buf][P * 4 + (2 ^ sw)];
                    const uint4 x3 = xh[buf][P * 4 + (3 ^ sw)];
                    const float2 info = xinfo[buf][P];
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
                        const uint4 c = ringC[st][r][u][threadIdx.x];
                        const float2 prm = ringP[st][r][u][threadIdx.x];
                        __half2 h = qs_u32_as_h2(0u);
                        h = qs_q4_word_h2(c.x, x0, h);
                        h = qs_q4_word_h2(c.y, x1, h);
                        h = qs_q4_word_h2(c.z, x2, h);
                        h = qs_q4_word_h2(c.w, x3, h);
                        const float2 f = __half22float2(h);
                        acc[r] = fmaf(prm.x * info.y, f.x + f.y, acc[r]);
                        acc[r] = fmaf(prm.y, info.x, acc[r]);
                    }
                }
            }
        }
    }
    qs_cp_async_wait<0>();
    float rms = 1.0f;
    if (XMODE == QS_Q4_X_NORM) {
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
        if (lane == 0) {
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
}
