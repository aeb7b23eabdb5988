// QuantSpec's hierarchical KV cache on the GPU: the quantize-and-pack kernels (prefill split and the
// decode-time CF1 flush) and the two attention kernels that read the cache (INT4 draft, INT8 verify).
//
// Cache layout (the same bytes as dev.quantspec.kv.HierarchicalKvCache, per layer):
//   kUpper, kLower, vUpper, vLower  uint8 [nKvHeads][capacity][HEAD_DIM / 2]
//       nibble index (h*capacity + t)*HEAD_DIM + c; the EVEN channel sits in the LOW nibble, so a
//       little-endian 32-bit word holds channels c..c+7 from the least significant nibble up
//   kParams  half2 [nKvHeads][capacity / G][HEAD_DIM]          (scale, min) per (h, key group, channel)
//   vParams  half2 [nKvHeads][capacity][HEAD_DIM / valueGroup]  (scale, min) per (h, token, value group)
//       fp16 params (ResidualQuantizer: the minimum rounded toward -inf, the scale toward +inf): 8 of the 136
//       bytes a position and kv head streams for the INT4 draft at G = HEAD_DIM = 128 (fp32 params were 16 of 144)
//   bufK, bufV  fp16 [nKvHeads][bufCapacity][HEAD_DIM]  the full-precision buffer (newest tokens)
#pragma once
#include "common.cuh"
#include "attention.cuh"

// ------------------------------------------------------------------------------------------------
// Quantize-and-pack. Bit-identical to ResidualQuantizer.quantizeGroup: every step is one IEEE fp32
// operation in the CPU's order, written with the _rn intrinsics so nvcc can neither contract a
// multiply and an add into an FMA nor use an approximate division.
// ------------------------------------------------------------------------------------------------
#define QS_SCALE_FLOOR 0x1p-100f

// A group's (scale, min) as the cache stores it: x = scale, y = min.
typedef __half2 qs_kv_param;

// (scale, min) in fp32 (exact: every half is a float).
__device__ __forceinline__ float2 qs_kv_param_f(qs_kv_param p) {
    return __half22float2(p);
}
__device__ __forceinline__ float2 qs_kv_param_ldg(const qs_kv_param* p) {
    return __half22float2(__ldg(p));
}
// Two consecutive params (channels c, c + 1) from one 8-byte word: (scale_c, min_c, scale_c+1, min_c+1).
__device__ __forceinline__ float4 qs_kv_param_pair(uint2 w) {
    const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&w.x));
    const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&w.y));
    return make_float4(a.x, a.y, b.x, b.y);
}


// Java's Math.min / Math.max on floats: NaN wins, and -0.0 counts as smaller than +0.0 (fminf
// leaves the sign of a zero result unspecified, and the params are compared bit for bit).
__device__ __forceinline__ float qs_java_min(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f) return signbit(a) ? a : b;
    return a <= b ? a : b;
}
__device__ __forceinline__ float qs_java_max(float a, float b) {
    if (a != a) return a;
    if (a == 0.0f && b == 0.0f) return signbit(a) ? b : a;
    return a >= b ? a : b;
}

// max((mx - mn) / 15, SCALE_FLOOR); stays NaN/Inf when the range is not finite (caller flags it).
__device__ __forceinline__ float qs_group_scale(float mn, float mx) {
    const float s = __fdiv_rn(__fsub_rn(mx, mn), 15.0f);
    return qs_java_max(s, QS_SCALE_FLOOR);
}

// The group's stored params from its fp32 min and max, as ResidualQuantizer.quantizeGroup: mn rounded down to a
// half, then scale = up16(max((mx - mn) / 15, SCALE_FLOOR)) from that mn. Returns false (nothing to store) when
// they are not finite: a non-finite value, a minimum below -65504 or a scale above 65504.
__device__ __forceinline__ bool qs_group_params(float lo, float hi, float& scale, float& mn) {
    mn = __half2float(__float2half_rd(lo));
    scale = __half2float(__float2half_ru(qs_group_scale(mn, hi)));
    return isfinite(scale);  // NaN / -inf in mn make the scale NaN / inf
}

// The upper code of x, 0..15, as ResidualQuantizer.upperCode (also the 4-bit weight code of Q4Matrix).
__device__ __forceinline__ int qs_upper_code(float x, float scale, float mn) {
    const int u = __float2int_rn(__fdiv_rn(__fsub_rn(x, mn), scale));  // rint then (int): both round half to even
    return min(max(u, 0), 15);
}

// (upper, lower) codes of x, both 0..15, as ResidualQuantizer.upperCode / lowerCode.
__device__ __forceinline__ void qs_residual_codes(float x, float scale, float mn, int& u, int& l) {
    u = qs_upper_code(x, scale, mn);
    const float x4 = __fadd_rn(__fmul_rn((float)u, scale), mn);
    const float residual = __fsub_rn(x, x4);
    int lo = __float2int_rn(__fdiv_rn(residual, __fdiv_rn(scale, 16.0f)));
    l = min(max(lo, -8), 7) + 8;
}

template <typename T> __device__ __forceinline__ float qs_to_float(T v);
template <> __device__ __forceinline__ float qs_to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float qs_to_float<__half>(__half v) { return __half2float(v); }

// Keys of gridDim.z key groups of G consecutive tokens: one group per (kv head, channel), quantized
// over the tokens.
//   src      T, token t of head h at src + t * srcTokenStride + h * srcHeadStride (elements): the
//            token-major rows [G][kvDim] (srcHeadStride = headDim) or the head-major fp16 buffer or
//            prefill cache [kvHeads][cap][headDim] (srcTokenStride = headDim, srcHeadStride = cap * headDim)
//   planes   key group z reads source tokens [z*G, z*G + G) and is written at tokens
//            [firstToken + z*G, ...), params at key group firstToken / G + z
//   status   int[1], set to 1 when a group's range is not finite (the group is then left unwritten)
// grid: (ceil(headDim/2 / 64) * groups, nKvHeads), block 64 (blockIdx.x = z * pairBlocks + pair
// block): one thread per channel PAIR, so each byte of a plane is written whole by one thread.
template <typename T>
__device__ __forceinline__ void qs_quantize_keys_body(
    const T* __restrict__ src, int srcTokenStride, long long srcHeadStride, uint8_t* __restrict__ kUpper,
    uint8_t* __restrict__ kLower, qs_kv_param* __restrict__ kParams, int* __restrict__ status, int headDim, int capacity,
    int groupSize, int maxGroups, int firstToken) {
    const int pairBlocks = (headDim / 2 + blockDim.x - 1) / blockDim.x;
    const int z = blockIdx.x / pairBlocks;
    const int pair = (blockIdx.x - z * pairBlocks) * blockDim.x + threadIdx.x;
    const int h = blockIdx.y;
    if (pair >= headDim / 2) return;
    src += (size_t)z * groupSize * srcTokenStride + (size_t)h * srcHeadStride;
    firstToken += z * groupSize;
    const int group = firstToken / groupSize;
    float scale[2], mn[2];
    bool finite[2];
    for (int k = 0; k < 2; ++k) {
        const T* col = src + 2 * pair + k;
        float lo = qs_to_float(col[0]);
        float hi = lo;
        for (int t = 1; t < groupSize; ++t) {
            const float v = qs_to_float(col[(size_t)t * srcTokenStride]);
            lo = qs_java_min(lo, v);
            hi = qs_java_max(hi, v);
        }
        finite[k] = qs_group_params(lo, hi, scale[k], mn[k]);
    }
    if (!finite[0] || !finite[1]) {
        *status = 1;
        return;
    }
    const size_t p0 = ((size_t)h * maxGroups + group) * headDim + 2 * pair;
    kParams[p0] = __floats2half2_rn(scale[0], mn[0]);  // exact: both are halves
    kParams[p0 + 1] = __floats2half2_rn(scale[1], mn[1]);
    const float2 pa = make_float2(scale[0], mn[0]);
    const float2 pb = make_float2(scale[1], mn[1]);
    for (int t = 0; t < groupSize; ++t) {
        const T* row = src + (size_t)t * srcTokenStride + 2 * pair;
        int ua, la, ub, lb;
        qs_residual_codes(qs_to_float(row[0]), pa.x, pa.y, ua, la);
        qs_residual_codes(qs_to_float(row[1]), pb.x, pb.y, ub, lb);
        const size_t at = ((size_t)h * capacity + firstToken + t) * (headDim / 2) + pair;
        kUpper[at] = (uint8_t)(ua | (ub << 4));
        kLower[at] = (uint8_t)(la | (lb << 4));
    }
}

// Values of `tokens` consecutive tokens: one group per (kv head, token, value group) over
// valueGroupSize channels; source token t of head h at src + t * srcTokenStride + h * srcHeadStride.
// grid: (ceil(tokens * valueGroups / 128), nKvHeads), block 128.
template <typename T>
__device__ __forceinline__ void qs_quantize_values_body(
    const T* __restrict__ src, int srcTokenStride, long long srcHeadStride, uint8_t* __restrict__ vUpper,
    uint8_t* __restrict__ vLower,
    qs_kv_param* __restrict__ vParams, int* __restrict__ status, int headDim, int capacity, int valueGroupSize,
    int tokens, int firstToken) {
    const int valueGroups = headDim / valueGroupSize;
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    const int h = blockIdx.y;
    if (idx >= tokens * valueGroups) return;
    const int t = idx / valueGroups;
    const int j = idx % valueGroups;
    const T* x = src + (size_t)t * srcTokenStride + (size_t)h * srcHeadStride + j * valueGroupSize;
    float mn = qs_to_float(x[0]);
    float mx = mn;
    for (int i = 1; i < valueGroupSize; ++i) {
        const float v = qs_to_float(x[i]);
        mn = qs_java_min(mn, v);
        mx = qs_java_max(mx, v);
    }
    float scale;
    if (!qs_group_params(mn, mx, scale, mn)) {
        *status = 1;
        return;
    }
    vParams[((size_t)h * capacity + firstToken + t) * valueGroups + j] = __floats2half2_rn(scale, mn);
    const size_t at = (((size_t)h * capacity + firstToken + t) * headDim + j * valueGroupSize) / 2;
    for (int i = 0; i < valueGroupSize; i += 2) {
        int ua, la, ub, lb;
        qs_residual_codes(qs_to_float(x[i]), scale, mn, ua, la);
        qs_residual_codes(qs_to_float(x[i + 1]), scale, mn, ub, lb);
        vUpper[at + i / 2] = (uint8_t)(ua | (ub << 4));
        vLower[at + i / 2] = (uint8_t)(la | (lb << 4));
    }
}

#define QS_QUANTIZE_ENTRIES(SUFFIX, T)                                                                   \
    extern "C" __global__ void qs_kv_quantize_keys_##SUFFIX(                                             \
        const T* __restrict__ src, int srcTokenStride, long long srcHeadStride,                          \
        uint8_t* __restrict__ kUpper, uint8_t* __restrict__ kLower, qs_kv_param* __restrict__ kParams,        \
        int* __restrict__ status, int headDim, int capacity, int groupSize, int maxGroups,               \
        int firstToken) {                                                                                \
        qs_quantize_keys_body<T>(src, srcTokenStride, srcHeadStride, kUpper, kLower, kParams, status,    \
                                 headDim, capacity, groupSize, maxGroups, firstToken);                   \
    }                                                                                                    \
    extern "C" __global__ void qs_kv_quantize_values_##SUFFIX(                                           \
        const T* __restrict__ src, int srcTokenStride, long long srcHeadStride,                          \
        uint8_t* __restrict__ vUpper, uint8_t* __restrict__ vLower, qs_kv_param* __restrict__ vParams,        \
        int* __restrict__ status, int headDim, int capacity, int valueGroupSize, int tokens,             \
        int firstToken) {                                                                                \
        qs_quantize_values_body<T>(src, srcTokenStride, srcHeadStride, vUpper, vLower, vParams, status,  \
                                   headDim, capacity, valueGroupSize, tokens, firstToken);               \
    }
QS_QUANTIZE_ENTRIES(f32, float)
QS_QUANTIZE_ENTRIES(f16, __half)

// The fp16 buffer after a CF1 flush: rows [from, from + rows) move to [0, rows) in every kv head of
// bufK and bufV ([kvHeads][bufCapacity][headDim]). One block per (kv head, K or V) owns that plane's
// rows, copying `from` rows at a time with a barrier in between, so overlapping ranges (from < rows)
// are safe: step k writes rows [k from, (k+1) from), which only step k - 1 read (before the barrier),
// and reads rows [(k+1) from, (k+2) from), which no step before it wrote. from >= 1 (host-checked).
// grid: (nKvHeads, 2), block 256; 16-byte copies (headDim % 8 == 0).
extern "C" __global__ void __launch_bounds__(256)
    qs_buffer_shift(__half* __restrict__ bufK, __half* __restrict__ bufV, int from, int rows, int headDim,
                    int bufCapacity) {
    __half* plane = (blockIdx.y == 0 ? bufK : bufV) + (size_t)blockIdx.x * bufCapacity * headDim;
    const int vecs = headDim / 8;  // uint4 per row
    uint4* p = reinterpret_cast<uint4*>(plane);
    for (int base = 0; base < rows; base += from) {
        const int n = min(from, rows - base) * vecs;
        for (int idx = threadIdx.x; idx < n; idx += blockDim.x) {
            const int at = base * vecs + idx;
            p[at] = p[at + from * vecs];
        }
        __syncthreads();
    }
}

// Buffer rows [0, rows) of every kv head <- source rows [firstToken, firstToken + rows), the source
// fp16 head-major (kv head h's row t at src + h * srcHeadStride + t * headDim elements, e.g. the
// prefill cache [kvHeads][cap][headDim]). grid: (ceil(rows * headDim / 8 / 256), 2 * nKvHeads), block 256
// (blockIdx.y = 2 * kv head + (0: keys, 1: values)).
extern "C" __global__ void __launch_bounds__(256)
    qs_buffer_copy_in(const __half* __restrict__ srcK, const __half* __restrict__ srcV, long long srcHeadStride,
                      int firstToken, int rows, __half* __restrict__ bufK, __half* __restrict__ bufV, int headDim,
                      int bufCapacity) {
    const int vecs = headDim / 8;
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * vecs) return;
    const int h = blockIdx.y >> 1;
    const bool keys = (blockIdx.y & 1) == 0;
    const __half* src = (keys ? srcK : srcV) + (size_t)h * srcHeadStride + (size_t)firstToken * headDim;
    __half* dst = (keys ? bufK : bufV) + (size_t)h * bufCapacity * headDim;
    reinterpret_cast<uint4*>(dst)[idx] = reinterpret_cast<const uint4*>(src)[idx];
}

// ------------------------------------------------------------------------------------------------
// Attention over the quantized cache + the fp16 buffer, flash-decoding style: blocks
// (chunk, slice of the query heads of one kv head); chunks 0..numChunks-2 cover the quantized
// positions [0, quantized) in runs of whole key groups, the last chunk covers the buffer. Each
// block writes one partial (acc, max, sum) per row into the layout qs_attn_combine merges, rows
// numbered qi*nHeads + head (query qi of the NQ, query head head).
//
// Dequantization without converting codes one by one to float: a code n (4 bits, or 8 bits
// 16u + l) is OR-ed into the mantissa of 1.0f, giving f = 1 + n * 2^-E exactly (E = 7 for INT4,
// bits 16..19; E = 11 for INT8, bits 12..19). Any affine dequantization n*step + base then equals
// f * (2^E step) + (base - 2^E step), so scale, minimum and the constant fold into the query
// (keys: one weight per channel per key group) and into the probability (values: one coefficient
// per token), and the inner loops are one AND/OR and one FMA per element. The offset 2^E step is
// only 8-16x the largest code value, so fp32 keeps ~1e-6 relative accuracy.
//   INT4 (draft):  n = u,        step = s,      base = m
//   INT8 (verify): n = 16u + l,  step = s/16,   base = m - s/2   (u*s + (l-8)*s/16 + m)
// ------------------------------------------------------------------------------------------------
constexpr int QATTN_THREADS = 128;
constexpr int QATTN_WARPS = QATTN_THREADS / 32;
constexpr int QATTN_UNROLL = 4;

// 1 + code_i * 2^-E for the 8 channels of one lane: bits 4i..4i+3 of `upper` (and of `lower`).
template <int BITS>
__device__ __forceinline__ void qs_codes_to_unit_floats(uint32_t upper, uint32_t lower, float* f) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int sh = 4 * i - 16;  // move nibble i to bits 16..19
        const uint32_t u = sh >= 0 ? (upper >> sh) : (upper << -sh);
        if (BITS == 4) {
            f[i] = __uint_as_float((u & 0x000F0000u) | 0x3F800000u);
        } else {
            const uint32_t l = sh + 4 >= 0 ? (lower >> (sh + 4)) : (lower << -(sh + 4));  // to bits 12..15
            f[i] = __uint_as_float((u & 0x000F0000u) | (l & 0x0000F000u) | 0x3F800000u);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Graph mode ("pass header"): one captured graph serves every draft step / verify pass, so the
// lengths are read from device memory instead of being baked into the launch. header int[4 + n]:
//   header[0] = pos0      absolute position of the pass's first token
//   header[1] = quantized  quantized positions (a multiple of G)
//   header[2] = bufRow0   buffer row of the pass's first token (pos0 - quantized)
//   header[4 + i]         token of pass row i
// Query i of a launch is pass row firstQuery + i: it sees the quantized positions [0, quantized) and
// the buffer rows [0, bufRow0 + firstQuery + i] (its own K/V were appended before).
// The grid is always (numChunks = maxChunks + 1) chunks; the split of the quantized positions is
// derived here from numChunks exactly as QuantizedDecodeAttention.split derives it, so the chunks of
// a query, hence its bits, do not depend on how many queries a launch carries. Chunks past the
// quantized length write neutral partials (max QS_ATTN_NO_SCORE, sum 0, acc 0): in qs_attn_combine
// they get the weight exp2(NO_SCORE - M) = 0 (M is finite: the buffer chunk always holds the
// query's own row) and add exact zeros.
// Host mode (header == nullptr): quantized, bufLen and chunkLen are the launch's, queries == NQ.
// Returns the last buffer row query 0 of the launch sees (its queries are the last `queries` rows).
// ------------------------------------------------------------------------------------------------
__device__ __forceinline__ int qs_qattn_pass_lengths(const int* __restrict__ header, int firstQuery, int queries,
                                                     int numChunks, int groupSize, int& quantized, int& bufLen,
                                                     int& chunkLen) {
    if (header != nullptr) {
        quantized = header[1];
        bufLen = header[2] + firstQuery + queries;
        const int maxChunks = numChunks - 1;
        const int perChunk = (quantized + maxChunks - 1) / maxChunks;
        chunkLen = max(groupSize, (perChunk + groupSize - 1) / groupSize * groupSize);
    }
    return bufLen - queries;
}

// The neutral partials of an empty quantized chunk (graph mode), for the launch's `queries` queries.
template <int HD, int GROUP, int HPB>
__device__ __forceinline__ void qs_qattn_neutral_partials(float* __restrict__ partialAcc,
                                                          float* __restrict__ partialMax,
                                                          float* __restrict__ partialSum, int rows, int kvHead,
                                                          int nHeads, int slice, int chunk, int numChunks,
                                                          int queries) {
    for (int idx = threadIdx.x; idx < rows * HD; idx += blockDim.x) {
        const int r = idx / HD, d = idx % HD;
        if (r / HPB >= queries) continue;
        const int head = kvHead * GROUP + slice * HPB + r % HPB;
        const size_t slot = ((size_t)(r / HPB) * nHeads + head) * numChunks + chunk;
        partialAcc[slot * HD + d] = 0.0f;
        if (d == 0) {
            partialMax[slot] = QS_ATTN_NO_SCORE;
            partialSum[slot] = 0.0f;
        }
    }
}

template <int HD, int GROUP, int HPB, int NQ, int BITS>
__device__ __forceinline__ void qs_qattn_body(
    const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,
    const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower, const qs_kv_param* __restrict__ kParams,
    const qs_kv_param* __restrict__ vParams, const __half* __restrict__ bufK, const __half* __restrict__ bufV,
    float* __restrict__ partialAcc, float* __restrict__ partialMax, float* __restrict__ partialSum,
    int quantized, int bufLen, int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize,
    int chunkLen, int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,
    int qRowStride) {
    constexpr int LANES = HD / 8;                // lanes per position, 8 channels each
    constexpr int GPW = 32 / LANES;              // positions a warp works on side by side
    constexpr int NGROUPS = QATTN_WARPS * GPW;
    constexpr int WARP_SPAN = GPW * QATTN_UNROLL;
    constexpr int ROWS = HPB * NQ;               // row r: query r / HPB, head slot r % HPB
    constexpr int SLICES = GROUP / HPB;
    constexpr float UNIT = BITS == 4 ? 128.0f : 2048.0f;  // 2^E
    constexpr float STEP = BITS == 4 ? 1.0f : 0.0625f;    // step = s * STEP
    constexpr float BASE = BITS == 4 ? 0.0f : 0.5f;       // base = m - s * BASE
    static_assert(GROUP % HPB == 0, "heads per block must divide the GQA group");

    __shared__ float smQ[ROWS][HD];              // q * scale * log2(e)
    __shared__ float smMax[NGROUPS][ROWS];
    __shared__ float smSum[NGROUPS][ROWS];
    __shared__ float smAcc[NGROUPS][ROWS][HD];

    const int chunk = blockIdx.x / SLICES;
    const int slice = blockIdx.x % SLICES;
    const int kvHead = blockIdx.y;
    const int nHeads = gridDim.y * GROUP;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int sub = lane / LANES;
    const int part = lane % LANES;
    const int gid = warp * GPW + sub;
    const int valueGroups = HD / valueGroupSize;
    const int vgroup = part * 8 / valueGroupSize;  // the lane's 8 channels lie in one value group

    const int bufLast0 = qs_qattn_pass_lengths(header, firstQuery, queries, numChunks, groupSize, quantized,
                                               bufLen, chunkLen);
    if (chunk < numChunks - 1 && chunk * chunkLen >= quantized) {  // graph mode: an empty quantized chunk
        qs_qattn_neutral_partials<HD, GROUP, HPB>(partialAcc, partialMax, partialSum, ROWS, kvHead, nHeads, slice,
                                                  chunk, numChunks, queries);
        return;
    }

    for (int idx = threadIdx.x; idx < ROWS * HD; idx += QATTN_THREADS) {
        const int r = idx / HD, d = idx % HD;
        const int head = kvHead * GROUP + slice * HPB + r % HPB;
        smQ[r][d] = r / HPB < queries ? q[(size_t)(r / HPB) * qRowStride + (size_t)head * HD + d] * scaleLog2 : 0.0f;
    }
    __syncthreads();

    float acc[ROWS][8], base[ROWS], runMax[ROWS], runSum[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        runMax[r] = QS_ATTN_NO_SCORE;
        runSum[r] = 0.0f;
        base[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r][i] = 0.0f;
    }
    float w[ROWS][8];  // per key group: the folded key weights; in the buffer: the scaled query

    // Online softmax step for UNROLL positions whose scores are s (log2 units, -inf if masked).
    auto rescale = [&](float (&s)[QATTN_UNROLL][ROWS]) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            float m = runMax[r];
#pragma unroll
            for (int u = 0; u < QATTN_UNROLL; ++u) m = fmaxf(m, s[u][r]);
            const float correction = exp2f(runMax[r] - m);
            runMax[r] = m;
            runSum[r] *= correction;
            base[r] *= correction;
#pragma unroll
            for (int i = 0; i < 8; ++i) acc[r][i] *= correction;
        }
    };

    if (chunk < numChunks - 1) {
        // ---------------- quantized positions, whole key groups
        const int start = chunk * chunkLen;
        const int end = min(start + chunkLen, quantized);
        const size_t rowBase = (size_t)kvHead * capacity;
        const uint32_t* kU = reinterpret_cast<const uint32_t*>(kUpper) + rowBase * (HD / 8) + part;
        const uint32_t* kL = reinterpret_cast<const uint32_t*>(kLower) + rowBase * (HD / 8) + part;
        const uint32_t* vU = reinterpret_cast<const uint32_t*>(vUpper) + rowBase * (HD / 8) + part;
        const uint32_t* vL = reinterpret_cast<const uint32_t*>(vLower) + rowBase * (HD / 8) + part;
        const qs_kv_param* vP = vParams + rowBase * valueGroups + vgroup;
        for (int g0 = start; g0 < end; g0 += groupSize) {
            const int gEnd = min(g0 + groupSize, end);
            float bias[ROWS];
            {
                const uint2* kp = reinterpret_cast<const uint2*>(
                    kParams + ((size_t)kvHead * maxGroups + g0 / groupSize) * HD + part * 8);
                float wk[8], off[8];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const float4 p = qs_kv_param_pair(__ldg(kp + i));  // (s, m) of channels 2i, 2i+1
                    wk[2 * i] = p.x * STEP * UNIT;
                    off[2 * i] = (p.y - p.x * BASE) - wk[2 * i];
                    wk[2 * i + 1] = p.z * STEP * UNIT;
                    off[2 * i + 1] = (p.w - p.z * BASE) - wk[2 * i + 1];
                }
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    float b = 0.0f;
#pragma unroll
                    for (int i = 0; i < 8; ++i) {
                        const float qv = smQ[r][part * 8 + i];
                        w[r][i] = qv * wk[i];
                        b = fmaf(qv, off[i], b);
                    }
                    bias[r] = qs_group_sum<LANES>(b);
                }
            }
            for (int b0 = g0 + warp * WARP_SPAN; b0 < gEnd; b0 += QATTN_WARPS * WARP_SPAN) {
                const int p0 = b0 + sub * QATTN_UNROLL;
                uint32_t ku[QATTN_UNROLL], kl[QATTN_UNROLL], vu[QATTN_UNROLL], vl[QATTN_UNROLL];
                float2 vp[QATTN_UNROLL];
#pragma unroll
                for (int u = 0; u < QATTN_UNROLL; ++u) {
                    const size_t pos = p0 + u < gEnd ? p0 + u : g0;  // masked rows re-read a valid one
                    ku[u] = __ldcs(kU + pos * (HD / 8));
                    vu[u] = __ldcs(vU + pos * (HD / 8));
                    if (BITS == 8) {
                        kl[u] = __ldcs(kL + pos * (HD / 8));
                        vl[u] = __ldcs(vL + pos * (HD / 8));
                    } else {
                        kl[u] = vl[u] = 0u;
                    }
                    vp[u] = qs_kv_param_ldg(vP + pos * valueGroups);
                }
                float s[QATTN_UNROLL][ROWS];
#pragma unroll
                for (int u = 0; u < QATTN_UNROLL; ++u) {
                    float f[8];
                    qs_codes_to_unit_floats<BITS>(ku[u], kl[u], f);
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
                        float d = 0.0f;
#pragma unroll
                        for (int i = 0; i < 8; ++i) d = fmaf(w[r][i], f[i], d);
                        d = qs_group_sum<LANES>(d) + bias[r];
                        s[u][r] = p0 + u < gEnd ? d : -INFINITY;
                    }
                }
                rescale(s);
#pragma unroll
                for (int u = 0; u < QATTN_UNROLL; ++u) {
                    float f[8];
                    qs_codes_to_unit_floats<BITS>(vu[u], vl[u], f);
                    const float vw = vp[u].x * STEP * UNIT;
                    const float voff = (vp[u].y - vp[u].x * BASE) - vw;
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
                        const float p = exp2f(s[u][r] - runMax[r]);
                        runSum[r] += p;
                        const float c = p * vw;
                        base[r] = fmaf(p, voff, base[r]);
#pragma unroll
                        for (int i = 0; i < 8; ++i) acc[r][i] = fmaf(c, f[i], acc[r][i]);
                    }
                }
            }
        }
    } else {
        // ---------------- the fp16 buffer, causal for the queries: query qi sees [0, bufLast0 + qi]
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
#pragma unroll
            for (int i = 0; i < 8; ++i) w[r][i] = smQ[r][part * 8 + i];
        const size_t plane = (size_t)kvHead * bufCapacity * HD + part * 8;
        for (int b0 = warp * WARP_SPAN; b0 < bufLen; b0 += QATTN_WARPS * WARP_SPAN) {
            const int p0 = b0 + sub * QATTN_UNROLL;
            uint4 kr[QATTN_UNROLL], vr[QATTN_UNROLL];
#pragma unroll
            for (int u = 0; u < QATTN_UNROLL; ++u) {
                const size_t pos = p0 + u < bufLen ? p0 + u : 0;
                kr[u] = qs_load_stream16(bufK + plane + pos * HD);
                vr[u] = qs_load_stream16(bufV + plane + pos * HD);
            }
            float s[QATTN_UNROLL][ROWS];
#pragma unroll
            for (int u = 0; u < QATTN_UNROLL; ++u) {
                float kf[8];
                qs_half8_to_float(kr[u], kf);
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    float d = 0.0f;
#pragma unroll
                    for (int i = 0; i < 8; ++i) d = fmaf(w[r][i], kf[i], d);
                    d = qs_group_sum<LANES>(d);
                    s[u][r] = p0 + u <= bufLast0 + r / HPB ? d : -INFINITY;
                }
            }
            rescale(s);
#pragma unroll
            for (int u = 0; u < QATTN_UNROLL; ++u) {
                float vf[8];
                qs_half8_to_float(vr[u], vf);
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    const float p = exp2f(s[u][r] - runMax[r]);
                    runSum[r] += p;
#pragma unroll
                    for (int i = 0; i < 8; ++i) acc[r][i] = fmaf(p, vf[i], acc[r][i]);
                }
            }
        }
    }

    // Merge the NGROUPS lane groups of the block (the folded value minima join the accumulators).
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        if (part == 0) {
            smMax[gid][r] = runMax[r];
            smSum[gid][r] = runSum[r];
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) smAcc[gid][r][part * 8 + i] = acc[r][i] + base[r];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < ROWS * HD; idx += QATTN_THREADS) {
        const int r = idx / HD;
        const int d = idx % HD;
        if (r / HPB >= queries) continue;  // graph mode with fewer queries than NQ: rows left unwritten
        float m = QS_ATTN_NO_SCORE;
        for (int j = 0; j < NGROUPS; ++j) m = fmaxf(m, smMax[j][r]);
        float sum = 0.0f, a = 0.0f;
        for (int j = 0; j < NGROUPS; ++j) {
            const float wt = exp2f(smMax[j][r] - m);
            sum = fmaf(smSum[j][r], wt, sum);
            a = fmaf(smAcc[j][r][d], wt, a);
        }
        const int head = kvHead * GROUP + slice * HPB + r % HPB;
        const size_t slot = ((size_t)(r / HPB) * nHeads + head) * numChunks + chunk;
        partialAcc[slot * HD + d] = a;
        if (d == 0) {
            partialMax[slot] = m;
            partialSum[slot] = sum;
        }
    }
}

// Entry points: qs_qattn_b{BITS}_h{HD}_g{GROUP}_p{HPB}_q{NQ}.
// grid: (numChunks * GROUP/HPB, nKvHeads), block QATTN_THREADS; numChunks counts the buffer chunk.
#define QS_QATTN_ENTRY(BITS, HD, G, HPB, NQ)                                                              \
    extern "C" __global__ void __launch_bounds__(QATTN_THREADS) qs_qattn_b##BITS##_h##HD##_g##G##_p##HPB##_q##NQ( \
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower, \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                           \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                           \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc, \
        float* __restrict__ partialMax, float* __restrict__ partialSum, int quantized, int bufLen,        \
        int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize, int chunkLen,    \
        int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,       \
        int qRowStride) {                                                                                 \
        qs_qattn_body<HD, G, HPB, NQ, BITS>(q, kUpper, kLower, vUpper, vLower, kParams, vParams, bufK,    \
                                            bufV, partialAcc, partialMax, partialSum, quantized, bufLen,  \
                                            capacity, maxGroups, bufCapacity, groupSize, valueGroupSize,  \
                                            chunkLen, numChunks, scaleLog2, header, firstQuery, queries, qRowStride);                              \
    }

// INT4 draft, one query: every query head of a kv head in one block (KV read once).
QS_QATTN_ENTRY(4, 128, 1, 1, 1)
QS_QATTN_ENTRY(4, 128, 4, 4, 1)
QS_QATTN_ENTRY(4, 64, 1, 1, 1)
QS_QATTN_ENTRY(4, 64, 4, 4, 1)
// INT8 verification, gamma + 1 = 5 queries. With GQA 4, 20 rows do not fit in registers (2 heads
// per block already spill): the blocks of one chunk split the heads, one per block, and sit next
// to each other in the grid, so the repeated reads of a chunk's KV come mostly from L2.
QS_QATTN_ENTRY(8, 128, 1, 1, 5)
QS_QATTN_ENTRY(8, 128, 4, 1, 5)
QS_QATTN_ENTRY(8, 64, 1, 1, 5)
QS_QATTN_ENTRY(8, 64, 4, 1, 5)
// GQA group 2 (qs-tiny 4/2 and qs-small 8/4 heads, head dim 64), version 1, for the decoder's graphs.
QS_QATTN_ENTRY(4, 128, 2, 2, 1)
QS_QATTN_ENTRY(4, 64, 2, 2, 1)
QS_QATTN_ENTRY(8, 128, 2, 1, 5)
QS_QATTN_ENTRY(8, 64, 2, 1, 5)

// ------------------------------------------------------------------------------------------------
// Version 2 of the quantized attention, after run 1 measured version 1 at 20-35% of bandwidth: a
// warp loaded its positions, then waited, then computed (no overlap), and 4-byte loads per lane
// kept too few bytes in flight. Changes:
//  - CH channels per lane (8, 16 or 32): with 32, one 16-byte load per plane per position and a
//    2-step shuffle reduction shared by 8 positions per warp instruction;
//  - software pipelining: the codes and value params of the warp's next step are loaded before
//    the current step is computed;
//  - the key weights of SG groups at a time are folded into shared memory by the whole block
//    (q * scale and the bias), so a group change costs a few shared-memory loads, not a global
//    round trip. A chunk is whole groups and G is a multiple of the block's step, so the quantized
//    path needs no masking.
// Same arguments and partial layout as version 1.
// Outcome (H200 run 2): only the MHA draft gained, with CH = 16 and UNROLL = 4 (8-19%, 39% of
// bandwidth at 256K); the GQA-4 draft stayed within 3% of version 1 and verification lost 10-20%.
// So the kernels are bound by instruction issue (about 3 integer/FMA operations per code, plus
// shuffles and exp2 per position and row), not by load latency: see native-kernels/QUANTKV-NOTES.md.
// ------------------------------------------------------------------------------------------------
template <int W> struct QsWords { uint32_t w[W]; };

template <int W>
__device__ __forceinline__ QsWords<W> qs_load_words(const uint32_t* p) {
    QsWords<W> r;
    if constexpr (W == 4) {
        const uint4 v = __ldcs(reinterpret_cast<const uint4*>(p));
        r.w[0] = v.x; r.w[1] = v.y; r.w[2] = v.z; r.w[3] = v.w;
    } else if constexpr (W == 2) {
        const uint2 v = __ldcs(reinterpret_cast<const uint2*>(p));
        r.w[0] = v.x; r.w[1] = v.y;
    } else {
        r.w[0] = __ldcs(p);
    }
    return r;
}

// Version 3 (H2 = true in the body below; INT4 draft only), after run 2 found version 2 issue-bound
// at shift + LOP3 + FMA per code: codes become fp16 two at a time and meet their weights in half2
// FMAs. The nibbles j and j + 4 of a code word are shifted to bits 6..9 and 22..25 and OR-ed into
// two fp16 ones (0x3C00), giving 1 + n/16 exactly in each half: a shift, a LOP3 and an HFMA2 per
// two codes instead of per code. The 1 folds into the bias and the value offset as in version 2
// (2^E = 16). Products round to fp16 (2^-11 relative, 1/128 of a code step); the key dot product
// of a lane's channels and the value sums of one warp step (UNROLL positions) add in fp16 and then
// go to the fp32 accumulators, so the draft's scores and outputs carry ~1e-3 relative error, far
// below the INT4 quantization error itself (half a step, ~3% of a group's range).
// Outcome (H200 run 3): the Llama-2-7B draft 1.2-1.3x faster than version 2 at 8K-256K (575.6 against
// 728.6 us at 256K, 49% of 4262 GB/s), worst test error 5.0e-4; the GQA-4 draft mixed (v1 stays).
template <int J>
__device__ __forceinline__ __half2 qs_nibble_pair_to_unit_half2(uint32_t word) {
    const uint32_t y = J < 2 ? word << (6 - 4 * J) : word >> (4 * J - 6);
    const uint32_t bits = (y & 0x03C003C0u) | 0x3C003C00u;
    return *reinterpret_cast<const __half2*>(&bits);
}

template <int HD, int GROUP, int HPB, int NQ, int BITS, int CH, int UNROLL, bool H2 = false>
__device__ __forceinline__ void qs_qattn2_body(
    const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,
    const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower, const qs_kv_param* __restrict__ kParams,
    const qs_kv_param* __restrict__ vParams, const __half* __restrict__ bufK, const __half* __restrict__ bufV,
    float* __restrict__ partialAcc, float* __restrict__ partialMax, float* __restrict__ partialSum,
    int quantized, int bufLen, int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize,
    int chunkLen, int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,
    int qRowStride) {
    constexpr int LANES = HD / CH;
    constexpr int GPW = 32 / LANES;
    constexpr int NGROUPS = QATTN_WARPS * GPW;
    constexpr int WS = GPW * UNROLL;             // positions per warp step
    constexpr int ROWS = HPB * NQ;
    constexpr int SLICES = GROUP / HPB;
    constexpr int WORDS = CH / 8;                // 32-bit code words per lane per plane
    constexpr int SG = ROWS >= 16 ? 1 : 16 / ROWS;  // key groups folded per phase
    constexpr float UNIT = H2 ? 16.0f : BITS == 4 ? 128.0f : 2048.0f;
    constexpr float STEP = BITS == 4 ? 1.0f : 0.0625f;
    constexpr float BASE = BITS == 4 ? 0.0f : 0.5f;
    static_assert(LANES <= 32 && 32 % LANES == 0 && CH % 8 == 0, "CH must be 8, 16 or 32");
    static_assert(!H2 || BITS == 4, "the half2 path (version 3) reads INT4 codes only");

    __shared__ float smQ[ROWS][HD];
    __shared__ __align__(16) float smW[SG][ROWS][HD];
    __shared__ float smBias[SG][ROWS];
    __shared__ float smMax[NGROUPS][ROWS];
    __shared__ float smSum[NGROUPS][ROWS];
    __shared__ float smAcc[NGROUPS][ROWS][HD];

    const int chunk = blockIdx.x / SLICES;
    const int slice = blockIdx.x % SLICES;
    const int kvHead = blockIdx.y;
    const int nHeads = gridDim.y * GROUP;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int sub = lane / LANES;
    const int part = lane % LANES;
    const int gid = warp * GPW + sub;
    const int cb = part * CH;                    // the lane's first channel
    const int valueGroups = HD / valueGroupSize;
    const int vgroup = cb / valueGroupSize;      // host guarantees valueGroupSize % CH == 0

    const int bufLast0 = qs_qattn_pass_lengths(header, firstQuery, queries, numChunks, groupSize, quantized,
                                               bufLen, chunkLen);
    if (chunk < numChunks - 1 && chunk * chunkLen >= quantized) {  // graph mode: an empty quantized chunk
        qs_qattn_neutral_partials<HD, GROUP, HPB>(partialAcc, partialMax, partialSum, ROWS, kvHead, nHeads, slice,
                                                  chunk, numChunks, queries);
        return;
    }

    for (int idx = threadIdx.x; idx < ROWS * HD; idx += QATTN_THREADS) {
        const int r = idx / HD, d = idx % HD;
        const int head = kvHead * GROUP + slice * HPB + r % HPB;
        smQ[r][d] = r / HPB < queries ? q[(size_t)(r / HPB) * qRowStride + (size_t)head * HD + d] * scaleLog2 : 0.0f;
    }
    __syncthreads();

    float acc[ROWS][CH], base[ROWS], runMax[ROWS], runSum[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        runMax[r] = QS_ATTN_NO_SCORE;
        runSum[r] = 0.0f;
        base[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < CH; ++i) acc[r][i] = 0.0f;
    }
    float w[ROWS][CH];
    __half2 w2[ROWS][CH / 2];  // version 3: weights of channels (8k + j, 8k + j + 4) at [4k + j]
    float bias[ROWS];

    auto rescale = [&](float (&s)[UNROLL][ROWS]) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
            float m = runMax[r];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) m = fmaxf(m, s[u][r]);
            const float correction = exp2f(runMax[r] - m);
            runMax[r] = m;
            runSum[r] *= correction;
            base[r] *= correction;
#pragma unroll
            for (int i = 0; i < CH; ++i) acc[r][i] *= correction;
        }
    };

    if (chunk < numChunks - 1) {
        const int start = chunk * chunkLen;
        const int end = min(start + chunkLen, quantized);
        const int groups = (end - start) / groupSize;
        const size_t rowBase = (size_t)kvHead * capacity;
        const uint32_t* kU = reinterpret_cast<const uint32_t*>(kUpper) + rowBase * (HD / 8) + part * WORDS;
        const uint32_t* kL = reinterpret_cast<const uint32_t*>(kLower) + rowBase * (HD / 8) + part * WORDS;
        const uint32_t* vU = reinterpret_cast<const uint32_t*>(vUpper) + rowBase * (HD / 8) + part * WORDS;
        const uint32_t* vL = reinterpret_cast<const uint32_t*>(vLower) + rowBase * (HD / 8) + part * WORDS;
        const qs_kv_param* vP = vParams + rowBase * valueGroups + vgroup;

        struct Step {
            QsWords<WORDS> ku[UNROLL], kl[UNROLL], vu[UNROLL], vl[UNROLL];
            float2 vp[UNROLL];
        };
        auto load = [&](Step& st, int b0) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const size_t pos = b0 + sub * UNROLL + u;
                st.ku[u] = qs_load_words<WORDS>(kU + pos * (HD / 8));
                st.vu[u] = qs_load_words<WORDS>(vU + pos * (HD / 8));
                if constexpr (BITS == 8) {
                    st.kl[u] = qs_load_words<WORDS>(kL + pos * (HD / 8));
                    st.vl[u] = qs_load_words<WORDS>(vL + pos * (HD / 8));
                } else {
#pragma unroll
                    for (int k = 0; k < WORDS; ++k) st.kl[u].w[k] = st.vl[u].w[k] = 0u;
                }
                st.vp[u] = qs_kv_param_ldg(vP + pos * valueGroups);
            }
        };

        for (int ph = 0; ph < groups; ph += SG) {
            const int phGroups = min(SG, groups - ph);
            const int firstGroup = start / groupSize + ph;
            __syncthreads();  // the previous phase is done with smW
            for (int idx = threadIdx.x; idx < phGroups * HD; idx += QATTN_THREADS) {
                const int gi = idx / HD, c = idx % HD;
                const float2 p = qs_kv_param_ldg(kParams + ((size_t)kvHead * maxGroups + firstGroup + gi) * HD + c);
                const float wk = p.x * STEP * UNIT;
#pragma unroll
                for (int r = 0; r < ROWS; ++r) smW[gi][r][c] = smQ[r][c] * wk;
            }
            // bias[g][r] = sum_c q_c * (base_c - 2^E step_c): one warp per group
            for (int gi = warp; gi < phGroups; gi += QATTN_WARPS) {
                float b[ROWS];
#pragma unroll
                for (int r = 0; r < ROWS; ++r) b[r] = 0.0f;
                for (int c = lane; c < HD; c += 32) {
                    const float2 p = qs_kv_param_ldg(kParams + ((size_t)kvHead * maxGroups + firstGroup + gi) * HD + c);
                    const float off = (p.y - p.x * BASE) - p.x * STEP * UNIT;
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) b[r] = fmaf(smQ[r][c], off, b[r]);
                }
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    const float t = qs_warp_sum(b[r]);
                    if (lane == 0) smBias[gi][r] = t;
                }
            }
            __syncthreads();

            const int ps = start + ph * groupSize;
            const int pe = ps + phGroups * groupSize;
            int curGroup = -1;
            Step cur;
            int b0 = ps + warp * WS;
            if (b0 < pe) load(cur, b0);
            for (; b0 < pe; b0 += QATTN_WARPS * WS) {
                Step nxt;
                const bool more = b0 + QATTN_WARPS * WS < pe;
                if (more) load(nxt, b0 + QATTN_WARPS * WS);
                const int gi = (b0 - ps) / groupSize;
                if (gi != curGroup) {
                    curGroup = gi;
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
#pragma unroll
                        for (int i = 0; i < CH; i += 4) {
                            const float4 v = *reinterpret_cast<const float4*>(&smW[gi][r][cb + i]);
                            w[r][i] = v.x; w[r][i + 1] = v.y; w[r][i + 2] = v.z; w[r][i + 3] = v.w;
                        }
                        if constexpr (H2) {
#pragma unroll
                            for (int k = 0; k < WORDS; ++k)
#pragma unroll
                                for (int j = 0; j < 4; ++j)
                                    w2[r][4 * k + j] = __floats2half2_rn(w[r][8 * k + j], w[r][8 * k + j + 4]);
                        }
                        bias[r] = smBias[gi][r];
                    }
                }
                float s[UNROLL][ROWS];
#pragma unroll
                for (int u = 0; u < UNROLL; ++u) {
                    float d[ROWS];
                    if constexpr (H2) {
#pragma unroll
                        for (int r = 0; r < ROWS; ++r) {
                            __half2 d2 = __float2half2_rn(0.0f);
#pragma unroll
                            for (int k = 0; k < WORDS; ++k) {
                                const uint32_t x = cur.ku[u].w[k];
                                d2 = __hfma2(w2[r][4 * k + 0], qs_nibble_pair_to_unit_half2<0>(x), d2);
                                d2 = __hfma2(w2[r][4 * k + 1], qs_nibble_pair_to_unit_half2<1>(x), d2);
                                d2 = __hfma2(w2[r][4 * k + 2], qs_nibble_pair_to_unit_half2<2>(x), d2);
                                d2 = __hfma2(w2[r][4 * k + 3], qs_nibble_pair_to_unit_half2<3>(x), d2);
                            }
                            const float2 df = __half22float2(d2);
                            d[r] = df.x + df.y;
                        }
                    } else {
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) d[r] = 0.0f;
#pragma unroll
                    for (int k = 0; k < WORDS; ++k) {
                        float f[8];
                        qs_codes_to_unit_floats<BITS>(cur.ku[u].w[k], cur.kl[u].w[k], f);
#pragma unroll
                        for (int r = 0; r < ROWS; ++r)
#pragma unroll
                            for (int i = 0; i < 8; ++i) d[r] = fmaf(w[r][8 * k + i], f[i], d[r]);
                    }
                    }
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) s[u][r] = qs_group_sum<LANES>(d[r]) + bias[r];
                }
                rescale(s);
                __half2 a2[ROWS][CH / 2];  // version 3: this step's value sums, channels as w2
                if constexpr (H2) {
#pragma unroll
                    for (int r = 0; r < ROWS; ++r)
#pragma unroll
                        for (int i = 0; i < CH / 2; ++i) a2[r][i] = __float2half2_rn(0.0f);
                }
#pragma unroll
                for (int u = 0; u < UNROLL; ++u) {
                    const float vw = cur.vp[u].x * STEP * UNIT;
                    const float voff = (cur.vp[u].y - cur.vp[u].x * BASE) - vw;
                    float c[ROWS];
#pragma unroll
                    for (int r = 0; r < ROWS; ++r) {
                        const float p = exp2f(s[u][r] - runMax[r]);
                        runSum[r] += p;
                        c[r] = p * vw;
                        base[r] = fmaf(p, voff, base[r]);
                    }
                    if constexpr (H2) {
#pragma unroll
                        for (int r = 0; r < ROWS; ++r) {
                            const __half2 c2 = __float2half2_rn(c[r]);
#pragma unroll
                            for (int k = 0; k < WORDS; ++k) {
                                const uint32_t x = cur.vu[u].w[k];
                                a2[r][4 * k + 0] = __hfma2(c2, qs_nibble_pair_to_unit_half2<0>(x), a2[r][4 * k + 0]);
                                a2[r][4 * k + 1] = __hfma2(c2, qs_nibble_pair_to_unit_half2<1>(x), a2[r][4 * k + 1]);
                                a2[r][4 * k + 2] = __hfma2(c2, qs_nibble_pair_to_unit_half2<2>(x), a2[r][4 * k + 2]);
                                a2[r][4 * k + 3] = __hfma2(c2, qs_nibble_pair_to_unit_half2<3>(x), a2[r][4 * k + 3]);
                            }
                        }
                    } else {
#pragma unroll
                    for (int k = 0; k < WORDS; ++k) {
                        float f[8];
                        qs_codes_to_unit_floats<BITS>(cur.vu[u].w[k], cur.vl[u].w[k], f);
#pragma unroll
                        for (int r = 0; r < ROWS; ++r)
#pragma unroll
                            for (int i = 0; i < 8; ++i) acc[r][8 * k + i] = fmaf(c[r], f[i], acc[r][8 * k + i]);
                    }
                    }
                }
                if constexpr (H2) {
#pragma unroll
                    for (int r = 0; r < ROWS; ++r)
#pragma unroll
                        for (int k = 0; k < WORDS; ++k)
#pragma unroll
                            for (int j = 0; j < 4; ++j) {
                                const float2 a = __half22float2(a2[r][4 * k + j]);
                                acc[r][8 * k + j] += a.x;
                                acc[r][8 * k + j + 4] += a.y;
                            }
                }
                if (more) cur = nxt;
            }
        }
    } else {
        // the fp16 buffer, causal for the NQ queries (small: no pipelining)
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
#pragma unroll
            for (int i = 0; i < CH; ++i) w[r][i] = smQ[r][cb + i];
        const size_t plane = (size_t)kvHead * bufCapacity * HD + cb;
        for (int b0 = warp * WS; b0 < bufLen; b0 += QATTN_WARPS * WS) {
            const int p0 = b0 + sub * UNROLL;
            float s[UNROLL][ROWS];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const size_t pos = p0 + u < bufLen ? p0 + u : 0;
                float d[ROWS];
#pragma unroll
                for (int r = 0; r < ROWS; ++r) d[r] = 0.0f;
#pragma unroll
                for (int k = 0; k < CH / 8; ++k) {
                    float kf[8];
                    qs_half8_to_float(qs_load_stream16(bufK + plane + pos * HD + 8 * k), kf);
#pragma unroll
                    for (int r = 0; r < ROWS; ++r)
#pragma unroll
                        for (int i = 0; i < 8; ++i) d[r] = fmaf(w[r][8 * k + i], kf[i], d[r]);
                }
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    const float t = qs_group_sum<LANES>(d[r]);
                    s[u][r] = p0 + u <= bufLast0 + r / HPB ? t : -INFINITY;
                }
            }
            rescale(s);
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const size_t pos = p0 + u < bufLen ? p0 + u : 0;
                float p[ROWS];
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    p[r] = exp2f(s[u][r] - runMax[r]);
                    runSum[r] += p[r];
                }
#pragma unroll
                for (int k = 0; k < CH / 8; ++k) {
                    float vf[8];
                    qs_half8_to_float(qs_load_stream16(bufV + plane + pos * HD + 8 * k), vf);
#pragma unroll
                    for (int r = 0; r < ROWS; ++r)
#pragma unroll
                        for (int i = 0; i < 8; ++i) acc[r][8 * k + i] = fmaf(p[r], vf[i], acc[r][8 * k + i]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
        if (part == 0) {
            smMax[gid][r] = runMax[r];
            smSum[gid][r] = runSum[r];
        }
#pragma unroll
        for (int i = 0; i < CH; ++i) smAcc[gid][r][cb + i] = acc[r][i] + base[r];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < ROWS * HD; idx += QATTN_THREADS) {
        const int r = idx / HD;
        const int d = idx % HD;
        if (r / HPB >= queries) continue;  // graph mode with fewer queries than NQ: rows left unwritten
        float m = QS_ATTN_NO_SCORE;
        for (int j = 0; j < NGROUPS; ++j) m = fmaxf(m, smMax[j][r]);
        float sum = 0.0f, a = 0.0f;
        for (int j = 0; j < NGROUPS; ++j) {
            const float wt = exp2f(smMax[j][r] - m);
            sum = fmaf(smSum[j][r], wt, sum);
            a = fmaf(smAcc[j][r][d], wt, a);
        }
        const int head = kvHead * GROUP + slice * HPB + r % HPB;
        const size_t slot = ((size_t)(r / HPB) * nHeads + head) * numChunks + chunk;
        partialAcc[slot * HD + d] = a;
        if (d == 0) {
            partialMax[slot] = m;
            partialSum[slot] = sum;
        }
    }
}

// Entry points: qs_qattn2_b{BITS}_h{HD}_g{GROUP}_p{HPB}_q{NQ}_c{CH}_u{UNROLL}.
// grid: (numChunks * GROUP/HPB, nKvHeads), block QATTN_THREADS; G must be a multiple of 4 * WS.
#define QS_QATTN2_ENTRY(BITS, HD, G, HPB, NQ, CH, U)                                                        \
    extern "C" __global__ void __launch_bounds__(QATTN_THREADS)                                             \
        qs_qattn2_b##BITS##_h##HD##_g##G##_p##HPB##_q##NQ##_c##CH##_u##U(                                   \
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower, \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                             \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                             \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,   \
        float* __restrict__ partialMax, float* __restrict__ partialSum, int quantized, int bufLen,          \
        int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize, int chunkLen,      \
        int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,         \
        int qRowStride) {                                                                                   \
        qs_qattn2_body<HD, G, HPB, NQ, BITS, CH, U>(                                                        \
            q, kUpper, kLower, vUpper, vLower, kParams, vParams, bufK, bufV, partialAcc, partialMax,        \
            partialSum, quantized, bufLen, capacity, maxGroups, bufCapacity, groupSize, valueGroupSize,     \
            chunkLen, numChunks, scaleLog2, header, firstQuery, queries, qRowStride);                                                                \
    }

// Draft (INT4, 1 query). Channels per lane and unroll are compared by QuantizedAttentionBenchmark.
QS_QATTN2_ENTRY(4, 128, 1, 1, 1, 32, 2)
QS_QATTN2_ENTRY(4, 128, 1, 1, 1, 16, 2)
QS_QATTN2_ENTRY(4, 128, 1, 1, 1, 16, 4)
QS_QATTN2_ENTRY(4, 128, 4, 4, 1, 8, 4)
QS_QATTN2_ENTRY(4, 128, 4, 4, 1, 8, 2)
QS_QATTN2_ENTRY(4, 128, 4, 4, 1, 16, 2)
QS_QATTN2_ENTRY(4, 64, 1, 1, 1, 16, 2)
QS_QATTN2_ENTRY(4, 64, 4, 4, 1, 8, 4)
// Verification (INT8, 5 queries).
QS_QATTN2_ENTRY(8, 128, 1, 1, 5, 8, 4)
QS_QATTN2_ENTRY(8, 128, 1, 1, 5, 8, 2)
QS_QATTN2_ENTRY(8, 128, 4, 1, 5, 8, 4)
QS_QATTN2_ENTRY(8, 128, 4, 1, 5, 8, 2)
QS_QATTN2_ENTRY(8, 64, 1, 1, 5, 8, 2)
QS_QATTN2_ENTRY(8, 64, 4, 1, 5, 8, 2)

// Version 3: the INT4 draft with fp16 codes and half2 FMAs (see qs_nibble_pair_to_unit_half2).
// Entry points: qs_qattn3_b4_h{HD}_g{GROUP}_p{HPB}_q1_c{CH}_u{UNROLL}; grid and block as version 2.
#define QS_QATTN3_ENTRY(HD, G, HPB, CH, U)                                                                  \
    extern "C" __global__ void __launch_bounds__(QATTN_THREADS)                                             \
        qs_qattn3_b4_h##HD##_g##G##_p##HPB##_q1_c##CH##_u##U(                                              \
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower, \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                             \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                             \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,   \
        float* __restrict__ partialMax, float* __restrict__ partialSum, int quantized, int bufLen,          \
        int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize, int chunkLen,      \
        int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,         \
        int qRowStride) {                                                                                   \
        qs_qattn2_body<HD, G, HPB, 1, 4, CH, U, true>(                                                      \
            q, kUpper, kLower, vUpper, vLower, kParams, vParams, bufK, bufV, partialAcc, partialMax,        \
            partialSum, quantized, bufLen, capacity, maxGroups, bufCapacity, groupSize, valueGroupSize,     \
            chunkLen, numChunks, scaleLog2, header, firstQuery, queries, qRowStride);                                                                \
    }

QS_QATTN3_ENTRY(128, 1, 1, 16, 4)
QS_QATTN3_ENTRY(128, 1, 1, 32, 2)
QS_QATTN3_ENTRY(128, 4, 4, 8, 4)
