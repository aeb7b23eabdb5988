// Tensor-core multi-vector bf16 GEMV with the weights as the MMA's B operand (run 3 of verify_chain2.cu):
// mma.sync m16n8k16, A = the vectors as rows (x[g] and x[g + 8], so up to 16 vectors; rows past NV are zero),
// B = 8 weight rows (the n dimension) x 16 k, D = vectors x weight rows. A warp owns 8 weight rows, as few as
// a 2-rows-per-warp fp32 kernel's block, so the grid is as fine as the fp32 kernels' and a warp needs no
// 16-row tile; KS warps of a block split the columns (chunks of 32: warp ks takes ks, ks + KS, ...) and their
// sums are added in ks order through shared memory (KS = 1: none, the warp stores). Thread (g, t) loads 16
// bytes of row g (columns t * 8 .. + 7 of the chunk) and multiplies them with the same 8 columns of x[g]
// (and x[g + 8]); MMA step s uses columns 4s .. 4s + 3 (logical k 2t, 2t + 1 <- +0, +1; 2t + 8, 2t + 9 <- +2, +3).
// x is split into PARTS bf16 parts as in gemv_tc_ring.cuh. The bits depend on KS and PARTS only.
// grid ceil(rows / (8 * WPB / KS)), block WPB * 32.
#pragma once
#include "gemv_tc_ring.cuh"

template <int NV, int WPB, int KS, int U, int PARTS, bool ACCUMULATE>
__device__ __forceinline__ void qs_gemv_bf16_tc8_body(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                      float* __restrict__ out, int rows, int cols) {
    static_assert(NV >= 1 && NV <= 16 && WPB % KS == 0 && (PARTS == 2 || PARTS == 3), "");
    constexpr int RG = WPB / KS;  // 8-row groups per block
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int rg = warp / KS, ks = warp % KS;
    const int row0 = (blockIdx.x * RG + rg) * 8;
    const bool active = row0 < rows;  // uniform per warp
    const int myRow = row0 + g < rows ? row0 + g : rows - 1;  // past the end: re-read, discarded
    const __nv_bfloat16* wrow = W + (size_t)myRow * cols;
    const bool hasLo = g < NV, hasHi = g + 8 < NV;
    const float* xlo = x + (size_t)(hasLo ? g : 0) * cols;
    const float* xhi = x + (size_t)(hasHi ? g + 8 : 0) * cols;
    float acc[2][PARTS][4];
#pragma unroll
    for (int s = 0; s < 2; ++s)
#pragma unroll
        for (int part = 0; part < PARTS; ++part)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[s][part][i] = 0.0f;

    auto loadx = [&](const float* xp, int c0, bool guarded, float (&xv)[8]) {
        if (!guarded) {
            const float4 a = __ldg(reinterpret_cast<const float4*>(xp + c0)), b = __ldg(reinterpret_cast<const float4*>(xp + c0) + 1);
            xv[0] = a.x; xv[1] = a.y; xv[2] = a.z; xv[3] = a.w; xv[4] = b.x; xv[5] = b.y; xv[6] = b.z; xv[7] = b.w;
        } else {
#pragma unroll
            for (int i = 0; i < 8; ++i) xv[i] = c0 + i < cols ? xp[c0 + i] : 0.0f;
        }
    };
    auto multiply = [&](const uint4& wv, int c0, bool guarded) {
        float xl[8], xh[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) { xl[i] = 0.0f; xh[i] = 0.0f; }
        if (hasLo) loadx(xlo, c0, guarded, xl);
        if (NV > 8 && hasHi) loadx(xhi, c0, guarded, xh);
        uint32_t al[PARTS][4], ah[PARTS][4];
        qs_split_bf16_parts<8, PARTS>(xl, al);
        if (NV > 8) {
            qs_split_bf16_parts<8, PARTS>(xh, ah);
        } else {
#pragma unroll
            for (int part = 0; part < PARTS; ++part)
#pragma unroll
                for (int i = 0; i < 4; ++i) ah[part][i] = 0u;
        }
        const uint32_t w[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
        for (int s = 0; s < 2; ++s)
#pragma unroll
            for (int part = 0; part < PARTS; ++part)
                qs_mma_bf16_16816(acc[s][part], al[part][2 * s], ah[part][2 * s], al[part][2 * s + 1], ah[part][2 * s + 1],
                                  w[2 * s], w[2 * s + 1]);
    };

    const bool aligned = (cols & 7) == 0;
    const int full = aligned ? cols >> 5 : 0;
    int c = ks;
    if (active) {
        for (; c + (U - 1) * KS < full; c += U * KS) {
            uint4 wv[U];
#pragma unroll
            for (int u = 0; u < U; ++u) wv[u] = qs_load_stream16(wrow + (size_t)(c + u * KS) * 32 + t * 8);
            if (c == ks) qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
#pragma unroll
            for (int u = 0; u < U; ++u) multiply(wv[u], (c + u * KS) * 32 + t * 8, false);
        }
    }
    qs_wait_prior_grid();  // warps that had no full step (a no-op for the others)
    if (active) {
        const int chunks = (cols + 31) >> 5;
        const unsigned short* pw = reinterpret_cast<const unsigned short*>(wrow);
        for (; c < chunks; c += KS) {  // the rest of this warp's chunks, one at a time, in order
            const int c0 = c * 32 + t * 8;
            const bool fast = aligned && c0 + 8 <= cols;
            uint4 wv;
            if (fast) {
                wv = qs_load_stream16(wrow + c0);
            } else {
                uint32_t q[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int e = c0 + 2 * i;
                    q[i] = (e < cols ? pw[e] : 0u) | ((e + 1 < cols ? (uint32_t)pw[e + 1] : 0u) << 16);
                }
                wv = make_uint4(q[0], q[1], q[2], q[3]);
            }
            multiply(wv, c0, !fast);
        }
    }
    // D: v[0], v[1]: vector g, rows row0 + 2t, + 1; v[2], v[3]: vector g + 8. Steps and parts in order.
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        v[i] = acc[0][0][i];
#pragma unroll
        for (int s = 0; s < 2; ++s)
#pragma unroll
            for (int part = 0; part < PARTS; ++part)
                if (s + part > 0) v[i] += acc[s][part][i];
    }
    if (KS == 1) {
        if (active) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int r = row0 + 2 * t + e;
                if (r < rows) {
                    if (g < NV) { float* o = out + (size_t)g * rows + r; *o = ACCUMULATE ? *o + v[e] : v[e]; }
                    if (g + 8 < NV) { float* o = out + (size_t)(g + 8) * rows + r; *o = ACCUMULATE ? *o + v[2 + e] : v[2 + e]; }
                }
            }
        }
    } else {
        __shared__ float red[RG][KS][16][9];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            red[rg][ks][g][2 * t + e] = v[e];
            red[rg][ks][g + 8][2 * t + e] = v[2 + e];
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < RG * NV * 8; idx += WPB * 32) {
            const int gi = idx / (NV * 8), rem = idx - gi * (NV * 8), j = rem >> 3, rr = rem & 7;
            float total = red[gi][0][j][rr];
#pragma unroll
            for (int k = 1; k < KS; ++k) total += red[gi][k][j][rr];
            const int r = (blockIdx.x * RG + gi) * 8 + rr;
            if (r < rows) {
                float* o = out + (size_t)j * rows + r;
                *o = ACCUMULATE ? *o + total : total;
            }
        }
    }
}
