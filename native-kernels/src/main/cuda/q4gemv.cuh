// The draft's 4-bit weights on the GPU (dev.quantspec.quant.Q4Matrix): group-wise asymmetric 4-bit
// codes along a row, group size G (128 in the paper; a multiple of 32 here so that a 16-byte piece
// of 32 codes lies in one group; the last group of a row partial), one (scale, min) per group.
//
// Layout (DeviceQ4Matrix):
//   codes   u8 [rows][rowStride], rowStride = 16 * ceil(cols / 32) bytes (every row 16-byte aligned);
//           element (r, c) in byte r * rowStride + c / 2, EVEN c in the LOW nibble (Q4Matrix's nibble
//           order); the pad nibbles/bytes past cols are 0
//   params  half2 [rows][groupsPerRow]: (scale, min), groupsPerRow = ceil(cols / G); halves as ResidualQuantizer's
//           storedMinimum / storedScale give them (min rounded down, scale up): 4 of the 68 bytes a 128-code group
//           streams are params
// The first ceil(cols / 2) bytes of each row and the params are bit-identical to Q4Matrix.quantize
// (codes and params from qs_upper_code / qs_group_params, the KV quantizer's formulas).
#pragma once
#include "common.cuh"
#include "quantkv.cuh"
#include "elementwise.cuh"  // qs_silu_mul (the SwiGLU epilogue)

constexpr int Q4_PIECE = 32;        // codes per 16-byte piece; a group is whole pieces
constexpr int Q4_QUANT_THREADS = 128;

// One warp per (row, group): lane l takes the element pairs (start + 2j, start + 2j + 1) for
// j = l, l + 32, ... (whole bytes). min and max reduce across the warp in any order: Java's
// Math.min/max (qs_java_min/max) are commutative and associative on floats (-0 below +0, NaN
// absorbing), so the result is the CPU's sequential one. A non-finite range sets status[0] = 1 and
// leaves the group unwritten. groupSize is even (a multiple of 32 for the GEMV).
// grid: ceil(rows * groupsPerRow / 4), block Q4_QUANT_THREADS. codes must be zeroed before (pads).
extern "C" __global__ void __launch_bounds__(Q4_QUANT_THREADS)
    qs_q4_quantize_bf16(const __nv_bfloat16* __restrict__ W, int rows, int cols, int groupSize,
                        uint8_t* __restrict__ codes, int rowStride, __half2* __restrict__ params,
                        int* __restrict__ status) {
    const int groupsPerRow = (cols + groupSize - 1) / groupSize;
    const long long gid = (long long)blockIdx.x * (Q4_QUANT_THREADS / 32) + (threadIdx.x >> 5);
    if (gid >= (long long)rows * groupsPerRow) return;  // uniform per warp
    const int lane = threadIdx.x & 31;
    const int r = (int)(gid / groupsPerRow);
    const int g = (int)(gid - (long long)r * groupsPerRow);
    const int start = g * groupSize;
    const int end = min(start + groupSize, cols);
    const __nv_bfloat16* row = W + (size_t)r * cols;

    float mn = __bfloat162float(row[start]);  // a valid element: neutral for min and max
    float mx = mn;
    for (int c = start + 2 * lane; c < end; c += 64) {
        const float a = __bfloat162float(row[c]);
        mn = qs_java_min(mn, a);
        mx = qs_java_max(mx, a);
        if (c + 1 < end) {
            const float b = __bfloat162float(row[c + 1]);
            mn = qs_java_min(mn, b);
            mx = qs_java_max(mx, b);
        }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        mn = qs_java_min(mn, __shfl_xor_sync(QS_FULL_MASK, mn, offset));
        mx = qs_java_max(mx, __shfl_xor_sync(QS_FULL_MASK, mx, offset));
    }
    float scale;
    if (!qs_group_params(mn, mx, scale, mn)) {
        if (lane == 0) *status = 1;
        return;
    }
    uint8_t* dst = codes + (size_t)r * rowStride;
    for (int c = start + 2 * lane; c < end; c += 64) {
        const int lo = qs_upper_code(__bfloat162float(row[c]), scale, mn);
        const int hi = c + 1 < end ? qs_upper_code(__bfloat162float(row[c + 1]), scale, mn) : 0;
        dst[c / 2] = (uint8_t)(lo | (hi << 4));
    }
    if (lane == 0) params[(size_t)r * groupsPerRow + g] = __floats2half2_rn(scale, mn);  // exact: both are halves
}

// ------------------------------------------------------------------------------------------------
// Half2 4-bit GEMV (2026-11-29, second tuning round). The same code layout (even c in the low nibble,
// no interleaving) and the same grid as the fp32 qs_q4_gemv_smem_body (harness baseline), but two codes per instruction in fp16:
// for a 32-bit word w of 8 codes n0..n7 (n_k in bits 4k..4k+3)
//   LOP3 (w      & 0x000F000F) | 0x64006400 = half2(1024 + n0, 1024 + n4)     - 1024 (HADD2, exact)
//   LOP3 (w      & 0x00F000F0) | 0x64006400 = half2(1024 + 16 n1, 1024 + 16 n5) * 1/16 - 64 (HFMA2, exact)
//   and the same on w >> 8 for (n2, n6), (n3, n7):
// 1 shift + 4 LOP3 + 4 HADD2/HFMA2 dequantize 8 codes exactly, 4 HFMA2 multiply them into a half2
// accumulator (vs ~1.5 INT ops + 1 FFMA per code before). x is staged per chunk in shared memory as
// half2 pairs (x_j, x_{j+4}) matching those code pairs, 16 bytes per word of codes, swizzled (uint4 q of
// local piece P at P * 4 + (q ^ ((P >> 1) & 3))) so a lane's reads of its own piece are conflict-free.
// fp16 range: each 32-value piece of x is scaled by a power of two 2^k so that its max |x| lies in
// [64, 128) (k from the max's exponent, by a 2-step xor shuffle over the 4 threads staging the piece);
// a piece's half2 chain (16 HFMA2 per half) then stays below 16 * 15 * 128 < 65504 whatever x's range.
// Per piece and row: d = lo + hi in fp32, acc += (scale * 2^-k) * d + min * sum(x_piece), sum(x) from
// the fp32 x (5-level tree). Error (PassKernelsGpuTest): with u_h = 2^-11, each x rounded to fp16
// (|dx| <= u_h |x 2^k|, or <= 2^-25 below fp16's normal range) and a 16-term HFMA2 chain per half
// (<= 16 u_h sum |n x 2^k| plus 2^-25 per step under 2^-14), the piece's scaled dot is within
// ~17 u_h sum |n x| (+ subnormal terms <= 2^-31 max|x| per code and step); the fp32 part adds what the
// fp32 kernel's bound (96 u B) covers. So |out - exact| <= 18 u_h sum_c s_c n_c (|x_c| + 2^-15 max|x|)
// + 96 u B. grid: ceil(rows / (THREADS / 32 * ROWS)), block THREADS.
// ------------------------------------------------------------------------------------------------
__device__ __forceinline__ uint32_t qs_lop3_and_or(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(d) : "r"(a), "r"(b), "r"(c));  // (a & b) | c
    return d;
}

__device__ __forceinline__ __half2 qs_u32_as_h2(uint32_t v) {
    return *reinterpret_cast<__half2*>(&v);
}

// acc + sum of the 8 codes of w times x pairs xq (uint4 of half2 (x_j, x_{j+4}), j = 0..3)
__device__ __forceinline__ __half2 qs_q4_word_h2(uint32_t w, uint4 xq, __half2 acc) {
    const __half2 k1024 = qs_u32_as_h2(0x64006400u);
    const __half2 k16th = qs_u32_as_h2(0x2C002C00u);   // 1/16
    const __half2 km64 = qs_u32_as_h2(0xD400D400u);    // -64
    const uint32_t w8 = w >> 8;
    const __half2 a = __hsub2(qs_u32_as_h2(qs_lop3_and_or(w, 0x000F000Fu, 0x64006400u)), k1024);
    const __half2 b = __hfma2(qs_u32_as_h2(qs_lop3_and_or(w, 0x00F000F0u, 0x64006400u)), k16th, km64);
    const __half2 c = __hsub2(qs_u32_as_h2(qs_lop3_and_or(w8, 0x000F000Fu, 0x64006400u)), k1024);
    const __half2 d = __hfma2(qs_u32_as_h2(qs_lop3_and_or(w8, 0x00F000F0u, 0x64006400u)), k16th, km64);
    acc = __hfma2(a, qs_u32_as_h2(xq.x), acc);
    acc = __hfma2(b, qs_u32_as_h2(xq.y), acc);
    acc = __hfma2(c, qs_u32_as_h2(xq.z), acc);
    acc = __hfma2(d, qs_u32_as_h2(xq.w), acc);
    return acc;
}

__device__ __forceinline__ uint32_t qs_h2_bits(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}

// Fusions of the draft pass (round 3, 2026-11-29; bench-results/h200-2026-11-29-gemv-round3.md):
//  XMODE QS_Q4_X_NORM: x is the fp32 residual stream and the product is W . (RMSNorm(x) * weight), weight bf16
//    [cols] as qs_rmsnorm takes it, replacing qs_rmsnorm + GEMV. Every block stages y = x * weight (one fp32
//    rounding, __fmul_rn) chunk by chunk exactly as it stages x otherwise, and each thread also sums x^2 over
//    the words it stages; after the last chunk the block sums the per-warp partials (one more barrier, in the
//    same order in every block, so every block gets the same bits) and each row's fp32 total is multiplied by
//    inv = rsqrtf(sum(x^2) / cols + eps) (qs_rmsnorm's formula; its summation order differs). Exact identity:
//    W . (x inv w) = inv (W . (x w)); the rounding differs from qs_rmsnorm then the GEMV, within the bound in
//    DeviceQ4MatrixFusedGpuTest: inv (18 u_h S_y + 96 u B_y + (cols + 16) u M_y), y = x w, M_y = sum |W_c y_c|.
//  OMODE QS_Q4_OUT_SWIGLU: the matrix is [gate; up] (rows = 2 ffn, the gate rows first: the engine's fused
//    gate/up weight); warp w reduces the gate rows j = w * ROWS/2 + i (i < ROWS/2) and the up rows ffn + j, and
//    writes out[j] = qs_silu_mul(gate_j, up_j) (elementwise.cuh: qs_swiglu_rows's math) into out fp32 [ffn]:
//    bitwise the same entry into a gateUp vector followed by qs_swiglu_rows. Replaces qs_swiglu_rows.
//  OMODE QS_Q4_OUT_ACC: out[r] += total (the _acc entries, bitwise the GEMV then qs_add_inplace).
//  OMODE QS_Q4_OUT_ROPE (2026-11-29, sixth session): the matrix is the fused [q; k; v] projection of one token and the
//    epilogue is qs_rope_append_rows for that row: warp w reduces the pairs j = w * ROWS/2 + i (i < ROWS/2), pair j
//    being rows (h hd + t, h hd + t + hd/2) with h = j / (hd/2), t = j % (hd/2) (hd = the head dim), so the two
//    values RoPE mixes meet in one warp; q and k pairs are rotated by qs_rope_pair at position header[0], all pairs
//    are stored into out fp32 [rows] (the q | k | v row the two kernels leave), and the k and v pairs of kv head h
//    also go as fp16 (round to nearest) to buffer row header[2] of bufK / bufV. Bitwise the _norm entry followed by
//    qs_rope_append_rows (one row). Replaces the qs_rope_append_rows launch of a draft step (~2.5 us per layer).
//  TRIGGER: griddepcontrol.launch_dependents after the first code loads (see qs_launch_dependents). Not used by
//    the entries: in the 32-layer graph it gained 0.8% at Llama-2-7B and lost 9% at Llama-3.1-8B (a single-wave
//    dependent such as o or down lands its blocks on the SMs that free up first).
// Measured in a 32-layer draft chain captured in a graph with programmatic launch (gemv-harness/gemv_round3.cu):
// the fused entries take a layer from 51.21 to 48.90 us (Llama-2-7B) and from 54.38 to 51.56 us (Llama-3.1-8B).
enum { QS_Q4_X_PLAIN = 0, QS_Q4_X_NORM = 1 };
enum { QS_Q4_OUT_STORE = 0, QS_Q4_OUT_ACC = 1, QS_Q4_OUT_SWIGLU = 2, QS_Q4_OUT_ROPE = 3 };

// What the RoPE epilogue needs (OMODE QS_Q4_OUT_ROPE): header int[3+] as qs_rope_append_rows reads it ([0] the
// token's position, [2] its buffer row), invFreq fp32 [headDim / 2], qDim = nHeads headDim and kvDim = nKvHeads
// headDim (rows = qDim + 2 kvDim), the fp16 buffers [nKvHeads][bufCapacity][headDim].
struct QsQ4Rope {
    const float* invFreq;
    const int* header;
    int headDim, qDim, kvDim;
    __half* bufK;
    __half* bufV;
    int bufCapacity;
};

// Programmatic dependent launch, the other half: lets the next kernel on the stream (when it is launched with
// programmatic stream serialization) be scheduled once every block of this grid has passed this point, so
// its blocks can take SMs as this grid's blocks retire and stream their weights before their own
// qs_wait_prior_grid(). Ordering of data is unchanged: that wait still returns only after this whole grid
// has completed and its writes are visible.
__device__ __forceinline__ void qs_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

template <int THREADS, int ROWS, int UNROLL, bool PREFETCH = false, int OMODE = QS_Q4_OUT_STORE,
          int XMODE = QS_Q4_X_PLAIN, bool TRIGGER = false>
__device__ __forceinline__ void qs_q4_gemv_h2_body(const uint8_t* __restrict__ codes,
                                                   const __half2* __restrict__ params,
                                                   const float* __restrict__ x, float* __restrict__ out,
                                                   int rows, int cols, int rowStride, int groupsPerRow,
                                                   int piecesPerGroup,
                                                   const __nv_bfloat16* __restrict__ normWeight = nullptr,
                                                   float eps = 0.0f, QsQ4Rope rope = {}) {
    constexpr bool PAIRS = OMODE == QS_Q4_OUT_SWIGLU || OMODE == QS_Q4_OUT_ROPE;
    static_assert(!PAIRS || ROWS % 2 == 0, "SwiGLU and RoPE pair two rows in a warp");
    constexpr int CHUNK = UNROLL * 32;  // pieces per chunk
    constexpr int WORDS = CHUNK * 4;    // 8-code words per chunk (a multiple of 32)
    constexpr int WARPS = THREADS / 32;
    constexpr int HALF = PAIRS ? ROWS / 2 : ROWS;  // outputs (or pairs) per warp
    __shared__ uint4 xh[2][WORDS];
    __shared__ float2 xinfo[2][CHUNK];  // (sum of the piece's fp32 x, 2^-k)
    __shared__ float sumSqWarp[XMODE == QS_Q4_X_NORM ? WARPS : 1];
    const int lane = threadIdx.x & 31;
    const int outs = PAIRS ? rows / 2 : rows;  // ffn for SwiGLU, pairs for RoPE
    const int ropeHalf = OMODE == QS_Q4_OUT_ROPE ? rope.headDim / 2 : 1;
    // RoPE: the first row of pair j (h hd + t, with h = j / (hd/2), t = j % (hd/2)); its partner is ropeHalf rows on
    auto pairRow = [&](int j) { return j / ropeHalf * 2 * ropeHalf + j % ropeHalf; };
    const int row0 = (blockIdx.x * WARPS + (threadIdx.x >> 5)) * HALF;  // first output of the warp
    const bool active = row0 < outs;  // uniform per warp
    const int pieces = (cols + Q4_PIECE - 1) / Q4_PIECE;
    const uint4* rowPtr[ROWS];
    const __half2* prmPtr[ROWS];
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        const int j = row0 + (r % HALF);
        int row = j < outs ? j : (active ? row0 : 0);
        if (OMODE == QS_Q4_OUT_SWIGLU && r >= HALF) row += outs;
        if (OMODE == QS_Q4_OUT_ROPE) row = pairRow(row) + (r >= HALF ? ropeHalf : 0);
        rowPtr[r] = reinterpret_cast<const uint4*>(codes + (size_t)row * rowStride);
        prmPtr[r] = params + (size_t)row * groupsPerRow;
        acc[r] = 0.0f;
    }
    const bool vec4 = (cols & 3) == 0;
    const bool wvec = XMODE == QS_Q4_X_NORM && (reinterpret_cast<uintptr_t>(normWeight) & 15) == 0;
    float sumSq = 0.0f;
    // the codes and params of the chunk starting at piece c0 (PREFETCH: loaded one chunk ahead, so the
    // DRAM reads of chunk i + 1 are in flight during chunk i's barrier and math)
    auto load = [&](int c0, uint4 (&c)[ROWS][UNROLL], __half2 (&prm)[ROWS][UNROLL]) {
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
    };
    uint4 c[ROWS][UNROLL];
    __half2 prm[ROWS][UNROLL];  // (scale, min), widened at their use
    if (PREFETCH) load(0, c, prm);
    int buf = 0;
    for (int c0 = 0; c0 < pieces; c0 += CHUNK, buf ^= 1) {
        if (!PREFETCH) load(c0, c, prm);
        if (c0 == 0) {
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
        __half2 prmn[ROWS][UNROLL];
        if (PREFETCH && c0 + CHUNK < pieces) load(c0 + CHUNK, cn, prmn);
        if (active) {
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
                        __half2 h = qs_u32_as_h2(0u);
                        h = qs_q4_word_h2(c[r][u].x, x0, h);
                        h = qs_q4_word_h2(c[r][u].y, x1, h);
                        h = qs_q4_word_h2(c[r][u].z, x2, h);
                        h = qs_q4_word_h2(c[r][u].w, x3, h);
                        const float2 f = __half22float2(h);
                        const float2 p = __half22float2(prm[r][u]);
                        acc[r] = fmaf(p.x * info.y, f.x + f.y, acc[r]);
                        acc[r] = fmaf(p.y, info.x, acc[r]);
                    }
                }
            }
        }
        if (PREFETCH) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u)
#pragma unroll
                for (int r = 0; r < ROWS; ++r) { c[r][u] = cn[r][u]; prm[r][u] = prmn[r][u]; }
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
        if (OMODE == QS_Q4_OUT_ROPE && lane == 0) {
#pragma unroll
            for (int r = 0; r < HALF; ++r) {
                const int j = row0 + r;
                if (j < outs) {
                    const int t = j % ropeHalf, rowA = pairRow(j);
                    float a = total[r], b = total[r + HALF];
                    if (rowA < rope.qDim + rope.kvDim) qs_rope_pair(a, b, rope.invFreq, rope.header[0], t);
                    out[rowA] = a;
                    out[rowA + ropeHalf] = b;
                    const int at = rope.header[2];
                    if (rowA >= rope.qDim && at >= 0 && at < rope.bufCapacity) {
                        const bool isK = rowA < rope.qDim + rope.kvDim;
                        const int c = rowA - rope.qDim - (isK ? 0 : rope.kvDim);  // column in the kv heads' row
                        const size_t dst = ((size_t)(c / rope.headDim) * rope.bufCapacity + at) * rope.headDim + c % rope.headDim;
                        __half* buf = isK ? rope.bufK : rope.bufV;
                        buf[dst] = __float2half_rn(a);
                        buf[dst + ropeHalf] = __float2half_rn(b);
                    }
                }
            }
        } else if (OMODE != QS_Q4_OUT_ROPE && lane == 0) {
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

// NAME_acc: out[r] += W[r] . x (the draft's o and down projections with the residual add; bitwise the plain
// entry followed by qs_add_inplace). out must not alias x.
#define QS_Q4_H2_ENTRY(NAME, T, R, U, PF)                                                          \
    extern "C" __global__ void __launch_bounds__(T)                                            \
        NAME(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,              \
             const float* __restrict__ x, float* __restrict__ out, int rows, int cols,          \
             int rowStride, int groupsPerRow, int piecesPerGroup) {                             \
        qs_q4_gemv_h2_body<T, R, U, PF>(codes, params, x, out, rows, cols, rowStride, groupsPerRow, \
                                    piecesPerGroup);                                            \
    }                                                                                          \
    extern "C" __global__ void __launch_bounds__(T)                                            \
        NAME##_acc(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,        \
                   const float* __restrict__ x, float* __restrict__ out, int rows, int cols,    \
                   int rowStride, int groupsPerRow, int piecesPerGroup) {                       \
        qs_q4_gemv_h2_body<T, R, U, PF, QS_Q4_OUT_ACC>(codes, params, x, out, rows, cols, rowStride, \
                                              groupsPerRow, piecesPerGroup);                    \
    }

// Entry points of the launched 4-bit GEMV (DeviceQ4Matrix.plainGemvKernelFor; grid ceil(rows / (8 * R)),
// block 256, no dynamic shared memory). Chosen on an H200 on 2026-11-29 (second round,
// bench-results/h200-2026-11-29-gemv-tuning.md), 1.15-1.33x the fp32 qs_q4_gemv_x_* kernels
// (now in native-kernels/gemv-harness/q4gemv_baselines.cuh):
//   h2_r4u2   R 4, U 2: rows >= 8192 (qkv of Llama-2-7B, gate/up)
//   h2_r2u2p  R 2, U 2 with PREFETCH: rows < 8192 (the draft's o and down with _acc; round 4, 2026-11-29,
//             bench-results/h200-2026-11-29-gemv-round4.md). Bitwise h2_r2u2 (the prefetch moves loads, not
//             math). Their grids (256 blocks for 4096 rows) fill ~2 of the 3-4 resident blocks per SM, so the
//             prefetch's registers (80 vs 56) cost no occupancy, and each warp keeps the next chunk's codes in
//             flight through the current chunk's x staging, barrier and math instead of one DRAM round trip
//             per chunk: o 5.9 -> 5.3 us, down 13.3 -> 11.0 us (Llama-2-7B) / 15.8 -> 12.7 us (Llama-3.1-8B),
//             the fused draft layer in a 32-layer graph 49.0 -> 46.3 us / 51.7 -> 48.1 us. Multi-wave grids
//             (qkv, gate/up; also as _norm entries) lose 20-50% with it: the registers cost resident blocks.
//   h2_r2u2   the same without prefetch: no longer launched by the engine for plain / _acc (its _norm entries
//             below are); kept as the harnesses' bitwise reference and ProgrammaticLaunchTest's example.
// The whole-x variant (qs_q4_gemv_h2w_body, in the harness's q4gemv_baselines.cuh) was 1.08-1.10x
// faster on down only (R2 U4), otherwise equal within ~3%. Split-K and a 2-chunk prefetch lost to h2_r2u2p
// (gemv-harness/q4gemv_split.cuh).
QS_Q4_H2_ENTRY(qs_q4_gemv_h2_r4u2, 256, 4, 2, false)
QS_Q4_H2_ENTRY(qs_q4_gemv_h2_r2u2, 256, 2, 2, false)
QS_Q4_H2_ENTRY(qs_q4_gemv_h2_r2u2p, 256, 2, 2, true)

// The fused entries of the draft pass (round 3): the same kernel with the RMSNorm applied to x (NAME_norm, for qkv)
// and also the SwiGLU epilogue (NAME_norm_swiglu, for gate/up: rows = 2 ffn, out fp32 [ffn]) or the RoPE + buffer
// append epilogue (NAME_norm_rope, for qkv: out fp32 [rows], then invFreq, header, headDim, qDim, kvDim, bufK, bufV,
// bufCapacity); TRIG: with qs_launch_dependents. Arguments: codes, params, x (the fp32 residual stream), normWeight
// bf16 [cols], eps, out, rows, cols, rowStride, groupsPerRow, piecesPerGroup. grid: ceil(rows / (8 * R)) (swiglu and
// rope: ceil((rows / 2) / (4 R))), block T, no dynamic shared memory.
#define QS_Q4_H2_FUSED_ENTRY(NAME, T, R, U, TRIG)                                                          \
    extern "C" __global__ void __launch_bounds__(T)                                                    \
        NAME##_norm(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,               \
                    const float* __restrict__ x, const __nv_bfloat16* __restrict__ normWeight, float eps, \
                    float* __restrict__ out, int rows, int cols, int rowStride, int groupsPerRow,       \
                    int piecesPerGroup) {                                                               \
        qs_q4_gemv_h2_body<T, R, U, false, QS_Q4_OUT_STORE, QS_Q4_X_NORM, TRIG>(                        \
            codes, params, x, out, rows, cols, rowStride, groupsPerRow, piecesPerGroup, normWeight, eps); \
    }                                                                                                  \
    extern "C" __global__ void __launch_bounds__(T)                                                    \
        NAME##_norm_swiglu(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,        \
                           const float* __restrict__ x, const __nv_bfloat16* __restrict__ normWeight,   \
                           float eps, float* __restrict__ out, int rows, int cols, int rowStride,       \
                           int groupsPerRow, int piecesPerGroup) {                                      \
        qs_q4_gemv_h2_body<T, R, U, false, QS_Q4_OUT_SWIGLU, QS_Q4_X_NORM, TRIG>(                       \
            codes, params, x, out, rows, cols, rowStride, groupsPerRow, piecesPerGroup, normWeight, eps); \
    }                                                                                                  \
    extern "C" __global__ void __launch_bounds__(T)                                                    \
        NAME##_norm_rope(const uint8_t* __restrict__ codes, const __half2* __restrict__ params,          \
                         const float* __restrict__ x, const __nv_bfloat16* __restrict__ normWeight,     \
                         float eps, float* __restrict__ out, int rows, int cols, int rowStride,         \
                         int groupsPerRow, int piecesPerGroup, const float* __restrict__ invFreq,       \
                         const int* __restrict__ header, int headDim, int qDim, int kvDim,              \
                         __half* __restrict__ bufK, __half* __restrict__ bufV, int bufCapacity) {       \
        qs_q4_gemv_h2_body<T, R, U, false, QS_Q4_OUT_ROPE, QS_Q4_X_NORM, TRIG>(                         \
            codes, params, x, out, rows, cols, rowStride, groupsPerRow, piecesPerGroup, normWeight, eps,  \
            QsQ4Rope{invFreq, header, headDim, qDim, kvDim, bufK, bufV, bufCapacity});                  \
    }

QS_Q4_H2_FUSED_ENTRY(qs_q4_gemv_h2_r4u2, 256, 4, 2, false)
QS_Q4_H2_FUSED_ENTRY(qs_q4_gemv_h2_r2u2, 256, 2, 2, false)
