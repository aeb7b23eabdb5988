// Tensor-core multi-vector bf16 GEMV, cp.async ring version (run 2 of verify_chain2.cu): 16 weight rows per
// block as the MMA's A operand, the vectors as B columns. Not launched by the engine (it lost; see
// bench-results/h200-2026-11-29-verify-gemv-tc.md).
#pragma once
#include "../src/main/cuda/common.cuh"
// ------------------------------------------------------------------------------------------------
// Tensor-core multi-vector GEMV (2026-11-29): out[j][r] = sum_c W[r][c] * x[j][c] for j < NV <= 16, with
// mma.sync m16n8k16 bf16 x bf16 -> fp32. A = 16 weight rows x 16 k, B = the vectors as columns, 8 per MMA
// (NB = ceil(NV / 8) MMAs per A fragment; columns past NV are zero). x is fp32: it is split as
// x = hi + lo (+ lo2 for PARTS = 3) with bf16 parts (the remainders are exact in fp32), one MMA per part into
// its own accumulator; each product of a bf16 weight and a bf16 part is exact, what is lost is the tensor
// core's fp32 accumulation and, with PARTS = 2, x's bits below the 16th.
//   The fp32 FMA kernels above spend 5 FMAs per weight at n = 5 (40 FFMA and the conversions per 16 weight
// bytes); here the same 16 bytes cost 2 * PARTS * NB / 8 MMAs per thread, so the kernel stays a stream of loads.
// Layout: a block of WARPS warps owns 16 rows; the columns are cut into chunks of CW (32 or 64), warp w takes
// chunks w, w + WARPS, w + 2 WARPS, ... in that order, each warp's ring of STAGES chunk buffers in shared
// memory filled by cp.async (16-byte copies, whole 64- or 128-byte row segments per 4 or 8 lanes), so
// STAGES - 1 chunks per warp are in flight while one is multiplied, without holding them in registers.
// Thread (g = lane / 4, t = lane % 4) multiplies columns t * CW / 4 .. + CW / 4 - 1 of rows g and g + 8 and of
// vector g (+ 8 b); MMA step s of a chunk uses its columns 4s .. 4s + 3: logical k 2t, 2t + 1 <- physical
// +0, +1 and logical k 2t + 8, 2t + 9 <- +2, +3, the same map for A and B (any k permutation is a valid dot
// product). Past the last full chunk (cols % CW != 0), and for every chunk when cols % 8 != 0, the thread's
// elements are loaded one at a time with zeros past the end, in the same chunk order.
// Batch invariance: a column of an MMA's D depends only on that column of B (measured: bitwise at n = 1, 5,
// 8 in gemv-harness/verify_chain2.cu), and the k order (chunk to warp, chunk order, step order, the parts'
// sum, then the warps' sums in warp order) does not depend on NV; so out[j] is bitwise the NV = 1 result on
// x[j] when WARPS, CW and PARTS are the same (STAGES only changes what is in flight). Those three fix the
// bits: the host must pick them from the shape alone, never from n.
// x = +-inf gives NaN (inf - inf in the split); activations are finite.
// grid ceil(rows / 16), block WARPS * 32.
// ------------------------------------------------------------------------------------------------
__device__ __forceinline__ void qs_mma_bf16_16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                  uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void qs_cp_async16(void* smem, const void* gmem) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void qs_cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void qs_cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

// b[part][i] = bf16 part `part` of x[2i] (low half) and x[2i + 1] (high half), for N floats.
template <int N, int PARTS>
__device__ __forceinline__ void qs_split_bf16_parts(const float (&xv)[N], uint32_t (&b)[PARTS][N / 2]) {
    float r[N];
#pragma unroll
    for (int i = 0; i < N; ++i) r[i] = xv[i];
#pragma unroll
    for (int part = 0; part < PARTS; ++part)
#pragma unroll
        for (int i = 0; i < N / 2; ++i) {
            const __nv_bfloat162 v = __floats2bfloat162_rn(r[2 * i], r[2 * i + 1]);  // .x: the low half
            b[part][i] = *reinterpret_cast<const uint32_t*>(&v);
            if (part + 1 < PARTS) {  // exact: x - bf16(x) has at most 16 significant bits
                r[2 * i] -= __uint_as_float(b[part][i] << 16);
                r[2 * i + 1] -= __uint_as_float(b[part][i] & 0xffff0000u);
            }
        }
}

template <int NV, int WARPS, int CW, int STAGES, int PARTS, bool ACCUMULATE>
__device__ __forceinline__ void qs_gemv_bf16_tc_body(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                     float* __restrict__ out, int rows, int cols) {
    static_assert(NV >= 1 && NV <= 16 && (CW == 32 || CW == 64) && STAGES >= 2 && (PARTS == 2 || PARTS == 3), "");
    constexpr int NB = (NV + 7) / 8;  // 8-column B fragments
    constexpr int PPR = CW / 8;       // 16-byte pieces per row and chunk
    constexpr int PPT = PPR / 4;      // pieces per row a thread multiplies
    constexpr int TW = CW / 4;        // columns per thread and chunk
    constexpr int STEPS = CW / 16;    // MMA k steps per chunk
    constexpr int PIECES = 16 * PPR;  // per warp and chunk
    constexpr int CPL = PIECES / 32;  // cp.async per lane and chunk
    constexpr int RING = WARPS * STAGES * PIECES;                  // uint4
    constexpr int REDW = 8 * NB + 1;                               // padded row of the warp-sum table
    constexpr int RED = (WARPS * 16 * REDW + 3) / 4;               // uint4
    __shared__ uint4 smem[RING > RED ? RING : RED];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int rowBase = blockIdx.x * 16;
    uint4* ring = smem + warp * STAGES * PIECES;
    // 128-byte rows (CW 64): odd rows swap neighbouring pieces, so rows g and g + 1 of a read phase hit other banks
    auto slot = [](int lrow, int p) { return lrow * PPR + (PPR == 8 ? (p ^ (lrow & 1)) : p); };

    // cp.async sources: lane copies pieces q = j * 32 + lane of the chunk (row q / PPR, piece q % PPR)
    const __nv_bfloat16* src[CPL];
    int dst[CPL];
#pragma unroll
    for (int j = 0; j < CPL; ++j) {
        const int q = j * 32 + lane, lrow = q / PPR, p = q % PPR;
        const int r = rowBase + lrow < rows ? rowBase + lrow : rows - 1;  // past the end: re-read, discarded
        src[j] = W + (size_t)r * cols + p * 8;
        dst[j] = slot(lrow, p);
    }
    float acc[NB][PARTS][4];
#pragma unroll
    for (int b = 0; b < NB; ++b)
#pragma unroll
        for (int part = 0; part < PARTS; ++part)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[b][part][i] = 0.0f;

    // one chunk: A words wa (row g), wb (row g + 8), TW / 2 each; x columns from column c0 of the chunk
    auto multiply = [&](const uint32_t (&wa)[TW / 2], const uint32_t (&wb)[TW / 2], int c0, bool guarded) {
        uint32_t xb[NB][PARTS][TW / 2];
#pragma unroll
        for (int b = 0; b < NB; ++b) {
            const int v = g + 8 * b;
            float xv[TW];
#pragma unroll
            for (int i = 0; i < TW; ++i) xv[i] = 0.0f;
            if (v < NV) {
                const float* xp = x + (size_t)v * cols + c0 + t * TW;
                if (!guarded) {
#pragma unroll
                    for (int i = 0; i < TW / 4; ++i) {
                        const float4 f = __ldg(reinterpret_cast<const float4*>(xp) + i);
                        xv[4 * i] = f.x; xv[4 * i + 1] = f.y; xv[4 * i + 2] = f.z; xv[4 * i + 3] = f.w;
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < TW; ++i) xv[i] = c0 + t * TW + i < cols ? xp[i] : 0.0f;
                }
            }
            qs_split_bf16_parts<TW, PARTS>(xv, xb[b]);
        }
#pragma unroll
        for (int s = 0; s < STEPS; ++s)
#pragma unroll
            for (int part = 0; part < PARTS; ++part)
#pragma unroll
                for (int b = 0; b < NB; ++b)
                    qs_mma_bf16_16816(acc[b][part], wa[2 * s], wb[2 * s], wa[2 * s + 1], wb[2 * s + 1], xb[b][part][2 * s],
                                      xb[b][part][2 * s + 1]);
    };

    const int full = (cols & 7) == 0 ? cols / CW : 0;                         // chunks through the ring
    const int mine = full > warp ? (full - warp + WARPS - 1) / WARPS : 0;    // this warp's share of them
    auto issue = [&](int i) {
        if (i < mine) {
            const size_t c = (size_t)(warp + i * WARPS) * CW;
            uint4* buf = ring + (i % STAGES) * PIECES;
#pragma unroll
            for (int j = 0; j < CPL; ++j) qs_cp_async16(buf + dst[j], src[j] + c);
        }
        qs_cp_async_commit();  // empty groups too: the wait below counts groups
    };
#pragma unroll
    for (int i = 0; i < STAGES - 1; ++i) issue(i);
    qs_wait_prior_grid();  // the first weights are in flight; x comes from the last kernel
    for (int i = 0; i < mine; ++i) {
        issue(i + STAGES - 1);
        qs_cp_async_wait<STAGES - 1>();  // chunk i has landed (this lane's copies) ...
        __syncwarp();                    // ... and every lane's
        const uint4* buf = ring + (i % STAGES) * PIECES;
        uint32_t wa[TW / 2], wb[TW / 2];
#pragma unroll
        for (int h = 0; h < PPT; ++h) {
            const uint4 a = buf[slot(g, t * PPT + h)], bq = buf[slot(g + 8, t * PPT + h)];
            wa[4 * h] = a.x; wa[4 * h + 1] = a.y; wa[4 * h + 2] = a.z; wa[4 * h + 3] = a.w;
            wb[4 * h] = bq.x; wb[4 * h + 1] = bq.y; wb[4 * h + 2] = bq.z; wb[4 * h + 3] = bq.w;
        }
        __syncwarp();  // every lane has read the buffer before the next issue refills it
        multiply(wa, wb, (warp + i * WARPS) * CW, false);
    }
    qs_cp_async_wait<0>();
    // the rest of this warp's chunks (a partial last one; all of them when cols % 8 != 0), in order
    const int chunks = (cols + CW - 1) / CW;
    {
        const int ra = rowBase + g < rows ? rowBase + g : rows - 1, rb = rowBase + g + 8 < rows ? rowBase + g + 8 : rows - 1;
        const unsigned short* pa = reinterpret_cast<const unsigned short*>(W) + (size_t)ra * cols;
        const unsigned short* pb = reinterpret_cast<const unsigned short*>(W) + (size_t)rb * cols;
        for (int c = warp + mine * WARPS; c < chunks; c += WARPS) {
            const int c0 = c * CW + t * TW;
            uint32_t wa[TW / 2], wb[TW / 2];
#pragma unroll
            for (int i = 0; i < TW / 2; ++i) {
                const int e = c0 + 2 * i;
                wa[i] = (e < cols ? pa[e] : 0u) | ((e + 1 < cols ? (uint32_t)pa[e + 1] : 0u) << 16);
                wb[i] = (e < cols ? pb[e] : 0u) | ((e + 1 < cols ? (uint32_t)pb[e + 1] : 0u) << 16);
            }
            multiply(wa, wb, c * CW, true);
        }
    }
    // D: acc[b][.][0], [1]: row g, columns 8b + 2t, + 1; [2], [3]: row g + 8. Parts, then warps, in order.
    __syncthreads();  // the ring is reused for the warp sums
    float* red = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int b = 0; b < NB; ++b)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float v = acc[b][0][i];
#pragma unroll
            for (int part = 1; part < PARTS; ++part) v += acc[b][part][i];
            red[(warp * 16 + g + (i >> 1) * 8) * REDW + 8 * b + 2 * t + (i & 1)] = v;
        }
    __syncthreads();
    for (int idx = threadIdx.x; idx < 16 * NV; idx += WARPS * 32) {
        const int j = idx >> 4, row = idx & 15;
        float total = red[row * REDW + j];
#pragma unroll
        for (int w = 1; w < WARPS; ++w) total += red[(w * 16 + row) * REDW + j];
        const int r = rowBase + row;
        if (r < rows) {
            float* o = out + (size_t)j * rows + r;
            *o = ACCUMULATE ? *o + total : total;
        }
    }
}
