// Earlier 4-bit GEMV kernels, kept for the harness to time the launched ones against (bench-results/
// h200-2026-11-29-gemv-tuning.md): the two-launch fp32 kernel (qs_q4_prepare_x + qs_q4_gemv), the fused
// and shared-x fp32 kernels (qs_q4_gemv_x_*), and the whole-x half2 variant (qs_q4_gemv_h2w_*). The
// engine launches only what native-kernels/src/main/cuda/q4gemv.cuh holds, so these stay out of the fatbin.
#pragma once
#include "../src/main/cuda/q4gemv.cuh"

// The GEMV's input, once per call: xpad fp32 [pieces * 32] = x zero-padded to whole pieces, and
// xsum fp32 [pieces] = the sum of each piece's 32 values. grid: ceil(pieces / 4), block 128.
extern "C" __global__ void __launch_bounds__(128)
    qs_q4_prepare_x(const float* __restrict__ x, int cols, float* __restrict__ xpad, float* __restrict__ xsum,
                    int pieces) {
    const int p = blockIdx.x * 4 + (threadIdx.x >> 5);
    if (p >= pieces) return;
    const int lane = threadIdx.x & 31;
    const int c = p * Q4_PIECE + lane;
    const float v = c < cols ? x[c] : 0.0f;
    xpad[c] = v;
    const float s = qs_warp_sum(v);
    if (lane == 0) xsum[p] = s;
}

// out[r] = sum_g scale_g * dot(q_g, x_g) + min_g * sum(x_g), per 16-byte piece of 32 codes:
// the codes become f = 1 + n/16 exactly (nibble moved to mantissa bits 19..22 by a shift and a LOP3
// per 4 codes, then one PRMT per code puts it under the exponent of 1.0f), so
//   dot(w4, x) over the piece = 16 s * sum(f x) + (min - 16 s) * sum(x)
// with sum(x) the piece's precomputed xsum; one PRMT and one FMA per code. f is at most 1.94, so the
// cancellation against (min - 16 s) sum(x) costs about a factor 3 of fp32 accuracy, not more.
// Bandwidth: each lane loads UNROLL 16-byte pieces of each of ROWS rows before using any, and the
// x piece it loads (128 bytes, from L1) serves all ROWS rows.
// grid: ceil(rows / (Q4_GEMV_THREADS / 32 * ROWS)), block Q4_GEMV_THREADS.
constexpr int Q4_GEMV_THREADS = 64;

__device__ __forceinline__ float qs_q4_word_dot(uint32_t w, const float* x, float d) {
    const uint32_t lo = ((w << 3) & 0x78787878u) | 0x80808080u;  // byte b: 0x80 | n(2b) << 3
    const uint32_t hi = ((w >> 1) & 0x78787878u) | 0x80808080u;  // byte b: 0x80 | n(2b+1) << 3
#pragma unroll
    for (int b = 0; b < 4; ++b) {
        const uint32_t sel = 0x7044u | (uint32_t)(b << 8);       // bytes: 0, 0, (lo or hi) byte b, 0x3F
        d = fmaf(__uint_as_float(__byte_perm(lo, 0x3F000000u, sel)), x[2 * b], d);
        d = fmaf(__uint_as_float(__byte_perm(hi, 0x3F000000u, sel)), x[2 * b + 1], d);
    }
    return d;
}

template <int ROWS, int UNROLL>
__device__ __forceinline__ void qs_q4_gemv_body(const uint8_t* __restrict__ codes, const float2* __restrict__ params,
                                                const float* __restrict__ xpad, const float* __restrict__ xsum,
                                                float* __restrict__ out, int rows, int pieces, int rowStride,
                                                int groupsPerRow, int piecesPerGroup) {
    const int lane = threadIdx.x & 31;
    const int row0 = (blockIdx.x * (Q4_GEMV_THREADS / 32) + (threadIdx.x >> 5)) * ROWS;
    if (row0 >= rows) return;
    const uint4* rowPtr[ROWS];
    const float2* prmPtr[ROWS];
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row0 + r < rows ? row0 + r : row0;
        rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
        prmPtr[r] = params + (size_t)row * groupsPerRow;
        acc[r] = 0.0f;
    }
    for (int p0 = lane; p0 < pieces; p0 += UNROLL * 32) {
        uint4 c[ROWS][UNROLL];
        float2 prm[ROWS][UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int p = p0 + u * 32 < pieces ? p0 + u * 32 : p0;
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                c[r][u] = qs_load_stream16(rowPtr[r] + p);
                prm[r][u] = __ldg(prmPtr[r] + p / piecesPerGroup);
            }
        }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int p = p0 + u * 32;
            if (p < pieces) {
                float xv[Q4_PIECE];
                const float4* xp = reinterpret_cast<const float4*>(xpad + (size_t)p * Q4_PIECE);
#pragma unroll
                for (int k = 0; k < Q4_PIECE / 4; ++k) {
                    const float4 t = __ldg(xp + k);
                    xv[4 * k] = t.x; xv[4 * k + 1] = t.y; xv[4 * k + 2] = t.z; xv[4 * k + 3] = t.w;
                }
                const float xs = __ldg(xsum + p);
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    float d = 0.0f;
                    d = qs_q4_word_dot(c[r][u].x, xv, d);
                    d = qs_q4_word_dot(c[r][u].y, xv + 8, d);
                    d = qs_q4_word_dot(c[r][u].z, xv + 16, d);
                    d = qs_q4_word_dot(c[r][u].w, xv + 24, d);
                    const float a = prm[r][u].x * 16.0f;
                    acc[r] = fmaf(a, d, acc[r]);
                    acc[r] = fmaf(prm[r][u].y - a, xs, acc[r]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const float total = qs_warp_sum(acc[r]);
        if (lane == 0 && row0 + r < rows) out[row0 + r] = total;
    }
}

// The former draft GEMV (with qs_q4_prepare_x); no longer launched by DeviceQ4Matrix, kept as the
// harness's baseline (native-kernels/gemv-harness).
extern "C" __global__ void __launch_bounds__(Q4_GEMV_THREADS)
    qs_q4_gemv(const uint8_t* __restrict__ codes, const float2* __restrict__ params, const float* __restrict__ xpad,
               const float* __restrict__ xsum, float* __restrict__ out, int rows, int pieces, int rowStride,
               int groupsPerRow, int piecesPerGroup) {
    qs_q4_gemv_body<4, 2>(codes, params, xpad, xsum, out, rows, pieces, rowStride, groupsPerRow, piecesPerGroup);
}

// ------------------------------------------------------------------------------------------------
// Fused 4-bit GEMV (2026-11-29 tuning; kept for the harness, not launched: the shared-x kernel below
// beats it). The same arithmetic per piece as qs_q4_gemv_body (f = 1 + n/16
// by PRMT, 32 FMAs, then 16 s * dot + (min - 16 s) * sum(x)), but reading x directly, so no
// qs_q4_prepare_x launch and no xpad/xsum scratch: the lane that owns piece p loads its 32 x values
// anyway, and sums them itself (a pairwise tree, 31 adds, shared by the ROWS rows of the warp). The last,
// partial piece (cols % 32 != 0) is loaded element-wise and zero-padded in registers, so the pad codes
// meet x = 0. The group index is computed once per piece for all rows (no runtime division per row).
//   codes/params as above; x fp32 [cols] (16-byte aligned); out fp32 [rows].
// grid: ceil(rows / (THREADS / 32 * ROWS)), block THREADS.
// Error: the piece sum of x is a 5-level tree (<= 5 u sum|x|), the dot chain as before, so the
// PassKernelsGpuTest bound (96 u B) holds with the same margin.
// ------------------------------------------------------------------------------------------------
template <int THREADS, int ROWS, int UNROLL>
__device__ __forceinline__ void qs_q4_gemv_fused_body(const uint8_t* __restrict__ codes,
                                                      const float2* __restrict__ params,
                                                      const float* __restrict__ x, float* __restrict__ out,
                                                      int rows, int cols, int rowStride, int groupsPerRow,
                                                      int piecesPerGroup) {
    const int lane = threadIdx.x & 31;
    const int row0 = (blockIdx.x * (THREADS / 32) + (threadIdx.x >> 5)) * ROWS;
    if (row0 >= rows) return;  // uniform per warp
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    const int fullPieces = cols / Q4_PIECE;
    const uint4* rowPtr[ROWS];
    const float2* prmPtr[ROWS];
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row0 + r < rows ? row0 + r : row0;
        rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
        prmPtr[r] = params + (size_t)row * groupsPerRow;
        acc[r] = 0.0f;
    }
    for (int p0 = lane; p0 < pieces; p0 += UNROLL * 32) {
        uint4 c[ROWS][UNROLL];
        float2 prm[ROWS][UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int p = p0 + u * 32 < pieces ? p0 + u * 32 : p0;
            const int g = p / piecesPerGroup;
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                c[r][u] = qs_load_stream16(rowPtr[r] + p);
                prm[r][u] = __ldg(prmPtr[r] + g);
            }
        }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int p = p0 + u * 32;
            if (p < pieces) {
                float xv[Q4_PIECE];
                if (p < fullPieces) {
                    const float4* xp = reinterpret_cast<const float4*>(x + (size_t)p * Q4_PIECE);
#pragma unroll
                    for (int k = 0; k < Q4_PIECE / 4; ++k) {
                        const float4 t = __ldg(xp + k);
                        xv[4 * k] = t.x; xv[4 * k + 1] = t.y; xv[4 * k + 2] = t.z; xv[4 * k + 3] = t.w;
                    }
                } else {
#pragma unroll
                    for (int k = 0; k < Q4_PIECE; ++k) {
                        const int col = p * Q4_PIECE + k;
                        xv[k] = col < cols ? __ldg(x + col) : 0.0f;
                    }
                }
                float t16[16];
#pragma unroll
                for (int k = 0; k < 16; ++k) t16[k] = xv[2 * k] + xv[2 * k + 1];
#pragma unroll
                for (int k = 0; k < 8; ++k) t16[k] = t16[2 * k] + t16[2 * k + 1];
#pragma unroll
                for (int k = 0; k < 4; ++k) t16[k] = t16[2 * k] + t16[2 * k + 1];
                const float xs = (t16[0] + t16[1]) + (t16[2] + t16[3]);
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    float d = 0.0f;
                    d = qs_q4_word_dot(c[r][u].x, xv, d);
                    d = qs_q4_word_dot(c[r][u].y, xv + 8, d);
                    d = qs_q4_word_dot(c[r][u].z, xv + 16, d);
                    d = qs_q4_word_dot(c[r][u].w, xv + 24, d);
                    const float a = prm[r][u].x * 16.0f;
                    acc[r] = fmaf(a, d, acc[r]);
                    acc[r] = fmaf(prm[r][u].y - a, xs, acc[r]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const float total = qs_warp_sum(acc[r]);
        if (lane == 0 && row0 + r < rows) out[row0 + r] = total;
    }
}


// ------------------------------------------------------------------------------------------------
// Shared-x 4-bit GEMV (2026-11-29 tuning; launched until the half2 kernels below replaced it). In the fused kernel above each lane reads
// its piece's 128 contiguous bytes of x, so one 16-byte load of a warp spans 32 lines (32 wavefronts),
// 256 per piece of x against 4 per 16-byte code load (measured: 1.02-1.27x slower than this kernel at
// the best configuration of each; both remain bound by on-SM work, not DRAM). Here the block stages x
// chunk by chunk (U * 32 pieces = U * 1024 floats) into shared memory with coalesced loads, the piece
// sums with it (each thread sums its float4 pairwise, then a 3-step xor shuffle over the 8 threads
// of a piece: a 5-level tree), in a swizzled layout (float4 q of local piece P at P * 8 + (q ^ (P & 7)))
// that makes a lane's 8 reads of its own piece conflict-free (4 wavefronts each). All warps run every
// chunk (one barrier per chunk, double-buffered), so a warp past the last row stays for the barriers.
// The codes of a chunk are loaded before its x is staged, so the DRAM reads are in flight meanwhile.
// Arithmetic per piece as qs_q4_gemv_body. grid: ceil(rows / (THREADS / 32 * ROWS)), block THREADS.
// ------------------------------------------------------------------------------------------------
template <int THREADS, int ROWS, int UNROLL>
__device__ __forceinline__ void qs_q4_gemv_smem_body(const uint8_t* __restrict__ codes,
                                                     const float2* __restrict__ params,
                                                     const float* __restrict__ x, float* __restrict__ out,
                                                     int rows, int cols, int rowStride, int groupsPerRow,
                                                     int piecesPerGroup) {
    constexpr int CHUNK = UNROLL * 32;  // pieces per chunk
    __shared__ float4 xs4[2][CHUNK * 8];
    __shared__ float xsumS[2][CHUNK];
    const int lane = threadIdx.x & 31;
    const int row0 = (blockIdx.x * (THREADS / 32) + (threadIdx.x >> 5)) * ROWS;
    const bool active = row0 < rows;  // uniform per warp
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    const uint4* rowPtr[ROWS];
    const float2* prmPtr[ROWS];
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int row = row0 + r < rows ? row0 + r : (active ? row0 : 0);
        rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
        prmPtr[r] = params + (size_t)row * groupsPerRow;
        acc[r] = 0.0f;
    }
    const bool vec4 = (cols & 3) == 0;
    int buf = 0;
    for (int c0 = 0; c0 < pieces; c0 += CHUNK, buf ^= 1) {
        uint4 c[ROWS][UNROLL];
        float2 prm[ROWS][UNROLL];
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p = c0 + u * 32 + lane < pieces ? c0 + u * 32 + lane : c0;
                const int g = p / piecesPerGroup;
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    c[r][u] = qs_load_stream16(rowPtr[r] + p);
                    prm[r][u] = __ldg(prmPtr[r] + g);
                }
            }
        }
        // stage x[c0 * 32, (c0 + CHUNK) * 32) as CHUNK * 8 float4 (zeros past cols)
#pragma unroll
        for (int f0 = 0; f0 < CHUNK * 8; f0 += THREADS) {
            const int f = f0 + threadIdx.x;  // CHUNK * 8 is a multiple of THREADS (<= 256)
            const int col = c0 * Q4_PIECE + f * 4;
            float4 v;
            if (vec4 && col + 3 < cols) {
                v = __ldg(reinterpret_cast<const float4*>(x + col));
            } else {
                v.x = col < cols ? __ldg(x + col) : 0.0f;
                v.y = col + 1 < cols ? __ldg(x + col + 1) : 0.0f;
                v.z = col + 2 < cols ? __ldg(x + col + 2) : 0.0f;
                v.w = col + 3 < cols ? __ldg(x + col + 3) : 0.0f;
            }
            const int P = f >> 3, q = f & 7;
            xs4[buf][P * 8 + (q ^ (P & 7))] = v;
            float s = (v.x + v.y) + (v.z + v.w);
            s += __shfl_xor_sync(QS_FULL_MASK, s, 1);
            s += __shfl_xor_sync(QS_FULL_MASK, s, 2);
            s += __shfl_xor_sync(QS_FULL_MASK, s, 4);
            if (q == 0) xsumS[buf][P] = s;
        }
        __syncthreads();
        if (active) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int P = u * 32 + lane;
                if (c0 + P < pieces) {
                    float xv[Q4_PIECE];
#pragma unroll
                    for (int q = 0; q < 8; ++q) {
                        const float4 t = xs4[buf][P * 8 + (q ^ (P & 7))];
                        xv[4 * q] = t.x; xv[4 * q + 1] = t.y; xv[4 * q + 2] = t.z; xv[4 * q + 3] = t.w;
                    }
                    const float xs = xsumS[buf][P];
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
                        float d = 0.0f;
                        d = qs_q4_word_dot(c[r][u].x, xv, d);
                        d = qs_q4_word_dot(c[r][u].y, xv + 8, d);
                        d = qs_q4_word_dot(c[r][u].z, xv + 16, d);
                        d = qs_q4_word_dot(c[r][u].w, xv + 24, d);
                        const float a = prm[r][u].x * 16.0f;
                        acc[r] = fmaf(a, d, acc[r]);
                        acc[r] = fmaf(prm[r][u].y - a, xs, acc[r]);
                    }
                }
            }
        }
    }
    if (active) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const float total = qs_warp_sum(acc[r]);
            if (lane == 0 && row0 + r < rows) out[row0 + r] = total;
        }
    }
}

#define QS_Q4_SMEM_ENTRY(NAME, T, R, U)                                                         \
    extern "C" __global__ void __launch_bounds__(T)                                             \
        NAME(const uint8_t* __restrict__ codes, const float2* __restrict__ params,               \
             const float* __restrict__ x, float* __restrict__ out, int rows, int cols,           \
             int rowStride, int groupsPerRow, int piecesPerGroup) {                              \
        qs_q4_gemv_smem_body<T, R, U>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, \
                                      piecesPerGroup);                                           \
    }

// Former entry points (fp32, exact dequantization; no longer launched: the qs_q4_gemv_h2_* at the end
// replaced them). The 4-bit GEMV without prepare_x (DeviceQ4Matrix.gemv picked by shape; grid
// ceil(rows / (THREADS / 32 * R)), block THREADS = 256). Chosen on an H200 on 2026-11-29
// (bench-results/h200-2026-11-29-gemv-tuning.md), 1.3-1.8x the former prepare_x + qs_q4_gemv:
//   r4    R 4, U 1: rows >= 8192 (qkv of Llama-2-7B, gate/up)
//   r2    R 2, U 1: rows < 8192, cols <= 4096 (o, Llama-3 qkv)
//   r1u2  R 1, U 2: rows < 8192, cols > 4096 (down)
QS_Q4_SMEM_ENTRY(qs_q4_gemv_x_r4, 256, 4, 1)
QS_Q4_SMEM_ENTRY(qs_q4_gemv_x_r2, 256, 2, 1)
QS_Q4_SMEM_ENTRY(qs_q4_gemv_x_r1u2, 256, 1, 2)

// ------------------------------------------------------------------------------------------------
// Whole-x half2 4-bit GEMV: the arithmetic of qs_q4_gemv_h2_body, but the block stages ALL of x once
// (dynamic shared memory: pieces * 64 bytes of half2 pairs + pieces * 8 bytes of (sum, 2^-k); up to
// 682 pieces = 21824 columns in the default 48 KB) and one barrier, then each warp walks its row groups
// (ROWS rows; warp w takes groups w, w + warps, ... : any grid works) with UNROLL 16-byte code pieces
// per lane and row in flight and no further barrier, so the warps of an SM drift apart and keep DRAM
// reads in flight continuously. grid: any (DeviceQ4Matrix: ceil(rows / (THREADS / 32 * ROWS)) capped
// at a few blocks per SM), block THREADS, shared pieces * 72 bytes. Error bound as qs_q4_gemv_h2_body.
// ------------------------------------------------------------------------------------------------
template <int THREADS, int ROWS, int UNROLL>
__device__ __forceinline__ void qs_q4_gemv_h2w_body(const uint8_t* __restrict__ codes,
                                                    const float2* __restrict__ params,
                                                    const float* __restrict__ x, float* __restrict__ out,
                                                    int rows, int cols, int rowStride, int groupsPerRow,
                                                    int piecesPerGroup) {
    extern __shared__ uint4 qs_q4_smem[];
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    uint4* xh = qs_q4_smem;                                        // [pieces * 4]
    float2* xinfo = reinterpret_cast<float2*>(qs_q4_smem + pieces * 4);  // [pieces]
    const int lane = threadIdx.x & 31;
    const bool vec4 = (cols & 3) == 0;
    const int words = pieces * 4;
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
            float s = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
            float m = fmaxf(fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3]))),
                            fmaxf(fmaxf(fabsf(v[4]), fabsf(v[5])), fmaxf(fabsf(v[6]), fabsf(v[7]))));
            s += __shfl_xor_sync(QS_FULL_MASK, s, 1);
            s += __shfl_xor_sync(QS_FULL_MASK, s, 2);
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
                if (qi == 0) xinfo[P] = make_float2(s, inv);
            }
        }
    }
    __syncthreads();
    const int warps = gridDim.x * (THREADS / 32);
    for (int row0 = (blockIdx.x * (THREADS / 32) + (threadIdx.x >> 5)) * ROWS; row0 < rows; row0 += warps * ROWS) {
        const uint4* rowPtr[ROWS];
        const float2* prmPtr[ROWS];
        float acc[ROWS];
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const int row = row0 + r < rows ? row0 + r : row0;
            rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
            prmPtr[r] = params + (size_t)row * groupsPerRow;
            acc[r] = 0.0f;
        }
        for (int p0 = lane; p0 < pieces; p0 += UNROLL * 32) {
            uint4 c[ROWS][UNROLL];
            float2 prm[ROWS][UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int p = p0 + u * 32 < pieces ? p0 + u * 32 : p0;
                const int g = p / piecesPerGroup;
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    c[r][u] = qs_load_stream16(rowPtr[r] + p);
                    prm[r][u] = __ldg(prmPtr[r] + g);
                }
            }
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int P = p0 + u * 32;
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
        }
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            const float total = qs_warp_sum(acc[r]);
            if (lane == 0 && row0 + r < rows) out[row0 + r] = total;
        }
    }
}

#define QS_Q4_H2W_ENTRY(NAME, T, R, U)                                                          \
    extern "C" __global__ void __launch_bounds__(T)                                             \
        NAME(const uint8_t* __restrict__ codes, const float2* __restrict__ params,               \
             const float* __restrict__ x, float* __restrict__ out, int rows, int cols,           \
             int rowStride, int groupsPerRow, int piecesPerGroup) {                              \
        qs_q4_gemv_h2w_body<T, R, U>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, \
                                     piecesPerGroup);                                            \
    }

