// Tensor-core multi-vector bf16 GEMV, register version (run 1 of verify_chain2.cu; the engine form is
// gemv.cuh qs_gemv_bf16_tc_body, a cp.async ring). Thread (g, t) loads its own 16-byte pieces of rows g and
// g + 8 into registers (U chunks of 32 columns in flight), no software pipelining; TILES 16-row tiles per warp.
// Same arithmetic scheme as qs_gemv_bf16_tc_body with CW = 32 (different bits: the k split differs).
#pragma once
#include "../src/main/cuda/common.cuh"

__device__ __forceinline__ void qs_tcr_mma(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                  uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t qs_tcr_pack(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low 16 bits) = lo
    return *reinterpret_cast<uint32_t*>(&v);
}

// Splits 8 floats into PARTS bf16 parts, packed as B fragments: b[part][i] holds elements 2i, 2i + 1.
template <int PARTS>
__device__ __forceinline__ void qs_tcr_split(const float (&xv)[8], uint32_t (&b)[PARTS][4]) {
    float r[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) r[i] = xv[i];
#pragma unroll
    for (int part = 0; part < PARTS; ++part) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            b[part][i] = qs_tcr_pack(r[2 * i], r[2 * i + 1]);
            if (part + 1 < PARTS) {  // the remainder is exact in fp32
                r[2 * i] -= __uint_as_float(b[part][i] << 16);
                r[2 * i + 1] -= __uint_as_float(b[part][i] & 0xffff0000u);
            }
        }
    }
}

// One 32-column chunk: thread (g = lane / 4, t = lane % 4) holds 8 consecutive columns t*8 .. t*8+7 of rows g and
// g + 8 of each tile (wA, wB) and of vector g (xb, zero for g >= NV). MMA step s uses columns t*8 + 4s .. +3:
// logical k 2t, 2t+1 <- physical +0, +1; logical k 2t+8, 2t+9 <- physical +2, +3, the same map for A and B.
template <int TILES, int PARTS>
__device__ __forceinline__ void qs_tcr_chunk(float (&acc)[TILES][PARTS][4], const uint4 (&wA)[TILES], const uint4 (&wB)[TILES],
                                            const uint32_t (&xb)[PARTS][4]) {
#pragma unroll
    for (int s = 0; s < 2; ++s)
#pragma unroll
        for (int part = 0; part < PARTS; ++part)
#pragma unroll
            for (int tile = 0; tile < TILES; ++tile) {
                const uint32_t* a = reinterpret_cast<const uint32_t*>(&wA[tile]);
                const uint32_t* bb = reinterpret_cast<const uint32_t*>(&wB[tile]);
                qs_tcr_mma(acc[tile][part], a[2 * s], bb[2 * s], a[2 * s + 1], bb[2 * s + 1], xb[part][2 * s],
                                  xb[part][2 * s + 1]);
            }
}

// Element-wise load of 8 bf16 at row[c0 ..], zero past cols (the tail chunk and unaligned rows).
__device__ __forceinline__ uint4 qs_tcr_load_guarded(const __nv_bfloat16* row, int c0, int cols) {
    uint32_t w[4];
    const unsigned short* p = reinterpret_cast<const unsigned short*>(row);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t lo = c0 + 2 * i < cols ? p[c0 + 2 * i] : 0u;
        const uint32_t hi = c0 + 2 * i + 1 < cols ? p[c0 + 2 * i + 1] : 0u;
        w[i] = lo | (hi << 16);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

// grid ceil(rows / (16 * TILES)), block WARPS * 32. Warp w takes the 32-column chunks w, w + WARPS, ... in order
// (the partial last chunk, and every chunk when cols % 8 != 0, through the guarded path, still in that order),
// then the warps' sums are added in warp order through shared memory.
template <int NV, int WARPS, int TILES, int U, int PARTS, bool ACCUMULATE>
__device__ __forceinline__ void qs_gemv_bf16_tcr_body(const __nv_bfloat16* __restrict__ W, const float* __restrict__ x,
                                                     float* __restrict__ out, int rows, int cols) {
    static_assert(NV >= 1 && NV <= 8, "B has 8 columns");
    __shared__ float red[WARPS][TILES][16][9];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int rowBase = blockIdx.x * 16 * TILES;
    const __nv_bfloat16* rowA[TILES];
    const __nv_bfloat16* rowB[TILES];
#pragma unroll
    for (int tile = 0; tile < TILES; ++tile) {
        const int ra = rowBase + tile * 16 + g, rb = ra + 8;
        rowA[tile] = W + (size_t)(ra < rows ? ra : rows - 1) * cols;  // past the end: re-read, discarded
        rowB[tile] = W + (size_t)(rb < rows ? rb : rows - 1) * cols;
    }
    const bool hasX = g < NV;
    const float* xg = x + (size_t)(hasX ? g : 0) * cols;
    float acc[TILES][PARTS][4];
#pragma unroll
    for (int tile = 0; tile < TILES; ++tile)
#pragma unroll
        for (int part = 0; part < PARTS; ++part)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[tile][part][i] = 0.0f;

    const bool aligned = (cols & 7) == 0;
    const int full = aligned ? cols >> 5 : 0;  // chunks taken by the 16-byte path
    int c = warp;
    for (; c + (U - 1) * WARPS < full; c += U * WARPS) {
        uint4 wA[U][TILES], wB[U][TILES];
#pragma unroll
        for (int u = 0; u < U; ++u)
#pragma unroll
            for (int tile = 0; tile < TILES; ++tile) {
                const size_t off = (size_t)(c + u * WARPS) * 32 + t * 8;
                wA[u][tile] = qs_load_stream16(rowA[tile] + off);
                wB[u][tile] = qs_load_stream16(rowB[tile] + off);
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
            qs_tcr_split<PARTS>(xv, xb);
            qs_tcr_chunk<TILES, PARTS>(acc, wA[u], wB[u], xb);
        }
    }
    qs_wait_prior_grid();  // warps that had no full step (a no-op for the others)
    const int chunks = (cols + 31) >> 5;
    for (; c < chunks; c += WARPS) {  // the rest of this warp's chunks, one at a time, in order
        const int c0 = c * 32 + t * 8;
        uint4 wA[TILES], wB[TILES];
        const bool fast = aligned && c0 + 8 <= cols;
#pragma unroll
        for (int tile = 0; tile < TILES; ++tile) {
            wA[tile] = fast ? qs_load_stream16(rowA[tile] + c0) : qs_tcr_load_guarded(rowA[tile], c0, cols);
            wB[tile] = fast ? qs_load_stream16(rowB[tile] + c0) : qs_tcr_load_guarded(rowB[tile], c0, cols);
        }
        float xv[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) xv[i] = hasX && c0 + i < cols ? xg[c0 + i] : 0.0f;
        uint32_t xb[PARTS][4];
        qs_tcr_split<PARTS>(xv, xb);
        qs_tcr_chunk<TILES, PARTS>(acc, wA, wB, xb);
    }
    // D fragment: acc[..][0], [1]: row g, columns 2t, 2t + 1; [2], [3]: row g + 8
#pragma unroll
    for (int tile = 0; tile < TILES; ++tile)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float v = acc[tile][0][i];
#pragma unroll
            for (int part = 1; part < PARTS; ++part) v += acc[tile][part][i];
            red[warp][tile][g + (i >> 1) * 8][2 * t + (i & 1)] = v;
        }
    __syncthreads();
    for (int idx = threadIdx.x; idx < TILES * 16 * NV; idx += WARPS * 32) {
        const int j = idx / (TILES * 16), rr = idx - j * (TILES * 16);
        const int tile = rr >> 4, row = rr & 15;
        float total = red[0][tile][row][j];
#pragma unroll
        for (int w = 1; w < WARPS; ++w) total += red[w][tile][row][j];
        const int r = rowBase + rr;
        if (r < rows) {
            float* o = out + (size_t)j * rows + r;
            *o = ACCUMULATE ? *o + total : total;
        }
    }
}
