// Version 6 of the INT8 verification attention: tensor cores (mma.sync m16n8k16, fp16 in, fp32 accumulate).
// Layout of the cache, the split into chunks and the partial results: as qs_qattn_body in quantkv.cuh, so
// qs_attn_combine (attention.cuh) merges the chunks. See native-kernels/QUANTKV-NOTES.md, "Version 6".
//
// Columns (the MMA's N dimension): col = qi * HPB + hs for query qi (0..nq-1) of the launch and head slot hs of
// the block's HPB query heads; NT = HPB n-tiles of 8 columns hold up to 8 queries (HPB 4: NT = 3, 6 queries).
// Columns of queries >= nq are zero queries (quantized part) or fully masked (buffer) and are never written.
// Every reduction is per column (MMA columns are independent; max/sum/rescale shuffles stay inside one column,
// the lazy rescale's warp vote only skips exact no-ops), so a query's result does not
// depend on how many other queries share the launch (batch invariance, checked bitwise by mma-harness).
//
// Keys, S = K Q^T: M = 16 positions (rows g = lane/4 and g + 8 of an m-tile), K = channels, N = columns. The
// channel order inside the MMA's K dimension is free as long as A (codes) and B (query) agree: thread j = lane%4
// owns channels [j*HD/4, (j+1)*HD/4) of a position, i.e. one 16-byte (HD 128) load per plane per row. Its code
// word w (channels 8w..8w+7 of the range, even channel in the low nibble) becomes the bytes c8 = 16u + l of
// channels (0,2,4,6) (E) and (1,3,5,7) (O) with a shift and a LOP3 each, and PRMT with 0x64 bytes gives half2
// (1024 + c8, 1024 + c8') exactly. Slice 2w uses E (a0: channels 0,2; a2: 4,6), slice 2w+1 uses O (1,3 / 5,7).
// The group's (s, m) fold into the query: B = fp16(q * scaleLog2 * s/16) per (key group, channel), and the
// accumulator starts at the per-(group, column) bias  sum_c q_c (m_c + 7.5 s_c) - 1152 sum_c B_c, so the score
// is  sum_c B_c (c8 - 128) + sum_c q_c (m_c - s_c/2 + 8 s_c) = sum_c q_c k_c  up to the fp16 rounding of B
// (centred codes: the rounding error multiplies |c8 - 128| <= 128, not c8 <= 255).
//
// Values, O^T += V^T P^T: M = 16 channels, K = 16 positions, N = columns. Thread g owns channels
// [g*HD/8, (g+1)*HD/8) (8 bytes per plane per position at HD 128); m-tile mt row g is channel g*HD/8 + 2mt, row
// g+8 channel g*HD/8 + 2mt + 1. An A register pairs two POSITIONS of one channel, so the E/O bytes of two
// positions are interleaved with one PRMT and spread with 0x64 by another. P^T comes from the key MMA's
// accumulator (rows = positions, cols = columns) by movmatrix.trans (two per m-tile). The value scale folds into
// P (vg = HD: one (s, m) per position): B = fp16(p * s_t/16), and the offset goes to a per-column fp32 sum
// base += p (m_t + 7.5 s_t) - 1152 fp16(p s_t/16), again centring the codes.
//
// The buffer (fp16) uses the natural channel order (thread j: channels j*HD/4 + 4s.. of slice s) and p unscaled.
#pragma once
#include "common.cuh"
#include "attention.cuh"

namespace qs6 {
constexpr int THREADS = 128;
constexpr int WARPS = THREADS / 32;
constexpr uint32_t K64 = 0x64646464u;  // fp16 1024 = 0x6400: bytes for PRMT

__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t movtrans(uint32_t x) {
    uint32_t r;
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(r) : "r"(x));
    return r;
}

// 2^x in one MUFU op (exp2f adds a denormal-range fix-up around it); -inf gives +0, 0 gives 1.
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Lazy online softmax: a column's running max moves only when a score exceeds it by more than this (log2
// units), so probabilities stay <= 2^8 (fp16-safe) and the accumulator rescale (MT * NT * 4 multiplies, 3
// shuffles per column) is skipped for most steps. The decision depends on the column's own scores only.
constexpr float MAX_SLACK = 8.0f;

// n-tiles of a block with HPB query heads: 8 queries for HPB <= 2, 6 queries (3 n-tiles, 24 columns) for HPB 4
// (4 n-tiles would not fit the accumulators in registers).
__host__ __device__ constexpr int ntiles(int hpb) { return hpb <= 2 ? hpb : 3; }
__host__ __device__ constexpr int maxQueries(int hpb) { return 8 * ntiles(hpb) / hpb; }

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}
__device__ __forceinline__ float2 unpack_half2(uint32_t x) {
    return __half22float2(*reinterpret_cast<const __half2*>(&x));
}

// bytes c8 = 16u + l of channels 0,2,4,6 (E) and 1,3,5,7 (O) of one 8-channel code word pair
__device__ __forceinline__ void c8_bytes(uint32_t U, uint32_t L, uint32_t& E, uint32_t& O) {
    E = ((U << 4) & 0xF0F0F0F0u) | (L & 0x0F0F0F0Fu);
    O = (U & 0xF0F0F0F0u) | ((L >> 4) & 0x0F0F0F0Fu);
}

template <int W, bool STREAM>
__device__ __forceinline__ void load_words(const uint8_t* p, uint32_t (&r)[W]) {
    if constexpr (W == 4) {
        const uint4 v = STREAM ? __ldcs(reinterpret_cast<const uint4*>(p)) : __ldg(reinterpret_cast<const uint4*>(p));
        r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    } else if constexpr (W == 2) {
        const uint2 v = STREAM ? __ldcs(reinterpret_cast<const uint2*>(p)) : __ldg(reinterpret_cast<const uint2*>(p));
        r[0] = v.x; r[1] = v.y;
    } else {
        r[0] = STREAM ? __ldcs(reinterpret_cast<const unsigned int*>(p)) : __ldg(reinterpret_cast<const unsigned int*>(p));
    }
}

__device__ __forceinline__ void cp16(void* smem, const void* gmem) {  // cp.async, 16 bytes, L2 only
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(a), "l"(gmem));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;"); }
template <int N>
__device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

// The mode of the f0 entries (QS_QATTN6_ENTRIES with PF = 0; bits of qs_qattn6_body's MODE, see there). Lean loop
// round (bench-results/h200-2026-11-29-mma-verify-lean.md): 18 = lean loop + key params by cp.async, same bits as 0,
// 1.08-1.12x on the Llama-2-7B layer and 1.05-1.20x on Llama-3.1-8B; 1 (split keys) and 32 (B in smem) lost.
constexpr int DEFAULT_MODE = 18;

// MODE & 256 (graph entries): the block's query rows are prefetched into L1 before the pass header is read, so the
// header's load and the query's overlap (the host entries get the lengths as arguments). Cols = columns x HD floats.
template <int HD, int GROUP, int HPB>
__device__ __forceinline__ void prefetch_q(const float* q, int qRowStride, int nq, int cols) {
    const int slice = blockIdx.x % (GROUP / HPB);
    for (int idx = threadIdx.x * 32; idx < cols * HD; idx += THREADS * 32) {  // one 128-byte line each
        const int col = idx / HD, d = idx % HD;
        const int qi = col / HPB;
        if (qi < nq) {
            const float* a = q + (size_t)qi * qRowStride + (size_t)(blockIdx.y * GROUP + slice * HPB + col % HPB) * HD + d;
            asm volatile("prefetch.global.L1 [%0];" ::"l"(a));
        }
    }
}

template <int W>
__device__ __forceinline__ void load_halves(const __half* p, uint32_t (&r)[W]) {  // W words, W % 4 == 0
#pragma unroll
    for (int i = 0; i < W / 4; ++i) {
        const uint4 v = qs_load_stream16(p + 8 * i);
        r[4 * i] = v.x; r[4 * i + 1] = v.y; r[4 * i + 2] = v.z; r[4 * i + 3] = v.w;
    }
}
}  // namespace qs6

// One block = (chunk, slice of HPB query heads, kv head); 4 warps split the chunk's 32-position units into
// contiguous runs. isBuffer: the block covers the buffer rows [0, bufRow0 + firstQuery + nq), query qi seeing
// rows [0, bufRow0 + firstQuery + qi]; else the quantized positions [qStart, qEnd) (whole key groups, possibly
// empty: then it writes the neutral partial max = QS_ATTN_NO_SCORE, sum = 0, acc = 0).
// TM: m-tiles (16 positions) per warp step in the quantized part. PF: software pipelining (the next step's codes
// are loaded before the current step is computed; the next key group's params wait in registers).
// MODE (bits, PF = 0 only; "Version 6, lean loop" in QUANTKV-NOTES.md): 16 = lean unit loop (as version 7 round 3):
// the loads of a unit are constant offsets from one row pointer per plane (one 64-bit multiply-add per unit and
// plane instead of one per load) and the key group comes from a counter (no division per unit); same bits.
// 2 = the key params of the warp's groups go to shared memory by cp.async two groups ahead (two buffers per warp, no
// registers), instead of an exposed __ldg at each group change; same bits. 1 = split-phase keys: the key codes of
// unit u + 1 are loaded right after unit u's score MMAs (the key registers are dead then); same bits.
// 32 = the key B fragments (NT * KS * 2 registers, 48 at HPB 4) live in shared memory (each lane its own 8 bytes
// per (n-tile, k-slice), aliasing the merge buffer), read by LDS.64 before each key MMA: fewer registers (HPB 4:
// 3 blocks/SM); same bits. 4 = the bias's -1152 sum_c B_c by KS HMMAs per n-tile against A = 1.0 (fp32 sums of the
// fp16 B; columns stay independent) instead of 2 conversions and 2 FFMA per channel pair per lane: other bits.
template <int HD, int GROUP, int HPB, int TM, bool PF, int MODE = 0>
__device__ __forceinline__ void qs_qattn6_body(
    const float* __restrict__ q, int qRowStride, const uint8_t* __restrict__ kUpper,
    const uint8_t* __restrict__ kLower, const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,
    const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams, const __half* __restrict__ bufK,
    const __half* __restrict__ bufV, float* __restrict__ partialAcc, float* __restrict__ partialMax,
    float* __restrict__ partialSum, bool isBuffer, int qStart, int qEnd, int chunk, int slots, int bufRow0,
    int firstQuery, int nq, int capacity, int maxGroups, int bufCapacity, int groupSize, float scaleLog2) {
    using namespace qs6;
    constexpr int NT = ntiles(HPB);         // n-tiles: maxQueries(HPB) queries x HPB heads
    constexpr int COLS = 8 * NT;
    constexpr int SLICES = GROUP / HPB;
    constexpr bool STREAM = SLICES == 1;    // slices re-read a chunk's codes: keep them in L2
    constexpr int KS = HD / 16;             // key k-slices
    constexpr int KW = HD / 32;             // key code words per plane per row and thread
    constexpr int MT = HD / 16;             // value m-tiles (channels)
    constexpr int VW = HD / 64;             // value code words per plane per position and thread
    constexpr int UNIT = 16 * TM;
    constexpr int SMP = HD + 4;             // padded smem row
    constexpr int KPC = HD / 4;             // 16-byte chunks of a key group's params (4 channels' half2 each)
    constexpr int KPF = (KPC + 31) / 32;    // chunks per lane (PF, KASYNC; HD 64: lanes 0..15 only)
    static_assert(GROUP % HPB == 0 && (HD == 64 || HD == 128), "shape");
    // smQ rows: channel d at d + 4 (d / (HD/4)), so the float4 reads of lanes (g, j) (channels j HD/4 + 8w..) of
    // rows g, g+1 fall on distinct banks (unpadded, all j and both rows hit the same 4 banks: 8-way conflicts)
    constexpr int QROW = HD + 16;
    constexpr bool SPLIT = (MODE & 1) != 0, KASYNC = (MODE & 2) != 0, LEAN = (MODE & 16) != 0;
    constexpr bool BQSM = (MODE & 32) != 0;
    constexpr bool BMMA = (MODE & 4) != 0;
    static_assert(MODE == 0 || !PF, "modes: PF = 0 only");
    constexpr int RB = HD / 2;              // bytes of a position's codes (one plane)
    // PF, KASYNC: a group's params in shared memory as thread j's HD/16 chunks (its HD/4 channels) then one chunk of
    // skew, so the 8-byte reads of the 4 lanes j of a row hit distinct banks
    constexpr int KPB = HD / 16 + 1;

    __shared__ __align__(16) float smQ[COLS][QROW];
    __shared__ float smMax[WARPS][COLS];
    __shared__ float smSum[WARPS][COLS];
    // the merge goes one n-tile at a time (HPB 4: 24 columns) through smAcc; BQSM: the B fragments before it
    constexpr int ACCB = WARPS * 8 * SMP * 4, BQB = BQSM ? WARPS * NT * KS * 32 * 8 : 0;
    __shared__ __align__(16) uint8_t smRaw[ACCB > BQB ? ACCB : BQB];
    auto& smAcc = *reinterpret_cast<float (*)[WARPS][8][SMP]>(smRaw);
    __shared__ __align__(16) uint4 smKP[PF ? WARPS : 1][PF ? 4 * KPB : 1];  // PF: a warp's current key group params
    __shared__ __align__(16) uint4 smKA[KASYNC ? 2 * WARPS : 1][KASYNC ? 4 * KPB : 1];  // KASYNC: 2 groups a warp

    const int slice = blockIdx.x % SLICES;
    const int kvHead = blockIdx.y;
    const int nHeads = gridDim.y * GROUP;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2;
    const int j = lane & 3;
    const int ntUsed = (nq * HPB + 7) / 8;  // n-tiles holding a real query (the others are skipped)

    for (int idx = threadIdx.x; idx < COLS * HD; idx += THREADS) {
        const int col = idx / HD, d = idx % HD;
        const int qi = col / HPB;
        const int head = kvHead * GROUP + slice * HPB + col % HPB;
        smQ[col][d + 4 * (d / (HD / 4))] = qi < nq ? q[(size_t)qi * qRowStride + (size_t)head * HD + d] * scaleLog2 : 0.0f;
    }
    __syncthreads();

    float acc[MT][NT][4];
    float runMax[NT][2], runSum[NT][2], base[NT][2], bias[NT][2];
    uint32_t bq[NT][KS][2];
    uint2* const smB = reinterpret_cast<uint2*>(smRaw) + warp * NT * KS * 32 + lane;  // BQSM: [nt][ks] x 32 lanes
    auto setB = [&](int nt, int ks, uint32_t lo, uint32_t hi) {
        if constexpr (BQSM) {
            smB[(nt * KS + ks) * 32] = make_uint2(lo, hi);
        } else {
            bq[nt][ks][0] = lo;
            bq[nt][ks][1] = hi;
        }
    };
    auto getB = [&](int nt, int ks) -> uint2 {
        if constexpr (BQSM) return smB[(nt * KS + ks) * 32];
        else return make_uint2(bq[nt][ks][0], bq[nt][ks][1]);
    };
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            runMax[nt][e] = QS_ATTN_NO_SCORE;
            runSum[nt][e] = 0.0f;
            base[nt][e] = 0.0f;
            bias[nt][e] = 0.0f;
        }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.0f;
#pragma unroll
        for (int s = 0; s < KS; ++s) bq[nt][s][0] = bq[nt][s][1] = 0u;
    }

    // Online softmax over T m-tiles of scores s[T][NT][4] (C fragments: [e] row g, [2+e] row g+8, column 2j+e),
    // lazy (MAX_SLACK): the warp skips the column reductions and the rescale unless some column's max moves.
    // Exact: a skipped column would have kept its max and multiplied by exactly 1.
    auto rescale = [&](auto& s) {
        constexpr int T = sizeof(s) / sizeof(s[0]);
        float lm[NT][2];
        bool up = false;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                float m = fmaxf(s[0][nt][e], s[0][nt][2 + e]);
#pragma unroll
                for (int t = 1; t < T; ++t) m = fmaxf(m, fmaxf(s[t][nt][e], s[t][nt][2 + e]));
                lm[nt][e] = m;
                if (nt < ntUsed) up |= m > runMax[nt][e] + MAX_SLACK;
            }
        }
        if (!__any_sync(QS_FULL_MASK, up)) return;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            if (nt >= ntUsed) continue;
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                float m = lm[nt][e];
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 4));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 8));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 16));
                const bool take = m > runMax[nt][e] + MAX_SLACK;  // same in the column's 8 lanes
                const float corr = take ? ex2(runMax[nt][e] - m) : 1.0f;
                runMax[nt][e] = take ? m : runMax[nt][e];
                runSum[nt][e] *= corr;
                base[nt][e] *= corr;
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    acc[mt][nt][e] *= corr;
                    acc[mt][nt][2 + e] *= corr;
                }
            }
        }
    };

    // Quantized part: each warp a contiguous run of UNIT-position units (the key weights change at group
    // boundaries only). Buffer: m-tiles dealt round robin, so that the tiles a warp sees for a query do not
    // depend on nq (a launch with more queries only adds tiles that are fully masked for this one).
    const int nRows = isBuffer ? bufRow0 + firstQuery + nq : qEnd - qStart;
    const int nUnits = isBuffer ? (nRows + 15) / 16 : nRows / UNIT;
    const int u0 = isBuffer ? warp : warp * nUnits / WARPS;
    const int u1 = isBuffer ? nUnits : (warp + 1) * nUnits / WARPS;

    if (!isBuffer) {
        const size_t rowBase = (size_t)kvHead * capacity;
        const uint8_t* kUr = kUpper + rowBase * (HD / 2) + j * (HD / 8);
        const uint8_t* kLr = kLower + rowBase * (HD / 2) + j * (HD / 8);
        const uint8_t* vUr = vUpper + rowBase * (HD / 2) + g * (HD / 16);
        const uint8_t* vLr = vLower + rowBase * (HD / 2) + g * (HD / 16);
        const qs_kv_param* vP = vParams + rowBase;  // valueGroupSize == HD: one (s, m) per position
        struct Loads {
            uint32_t ku[TM][2][KW], kl[TM][2][KW], vu[TM][4][VW], vl[TM][4][VW];
            qs_kv_param vp[TM][2];  // converted at their use, so a load in flight is not waited for early
        };
        // LEAN: row pointers of this thread's first row (g for keys and value params, 2j for value codes)
        const uint8_t* kUg = kUr + g * RB;
        const uint8_t* kLg = kLr + g * RB;
        const uint8_t* vUj = vUr + 2 * j * RB;
        const uint8_t* vLj = vLr + 2 * j * RB;
        const qs_kv_param* vPg = vP + g;
        auto loadKeys = [&](Loads& L, int p0) {
            if constexpr (LEAN) {
                const size_t o = (size_t)p0 * RB;
                const uint8_t* bu = kUg + o;
                const uint8_t* bl = kLg + o;
#pragma unroll
                for (int mt = 0; mt < TM; ++mt)
#pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        load_words<KW, STREAM>(bu + (16 * mt + 8 * r) * RB, L.ku[mt][r]);
                        load_words<KW, STREAM>(bl + (16 * mt + 8 * r) * RB, L.kl[mt][r]);
                    }
                return;
            }
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    const size_t pos = p0 + 16 * mt + g + 8 * r;
                    load_words<KW, STREAM>(kUr + pos * (HD / 2), L.ku[mt][r]);
                    load_words<KW, STREAM>(kLr + pos * (HD / 2), L.kl[mt][r]);
                }
            }
        };
        auto loadValues = [&](Loads& L, int p0) {
            if constexpr (LEAN) {
                const size_t o = (size_t)p0 * RB;
                const uint8_t* bu = vUj + o;
                const uint8_t* bl = vLj + o;
                const qs_kv_param* bp = vPg + p0;
#pragma unroll
                for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                    for (int r = 0; r < 2; ++r) L.vp[mt][r] = __ldg(bp + 16 * mt + 8 * r);
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        const int off = (16 * mt + (i & 1) + 8 * (i >> 1)) * RB;
                        load_words<VW, STREAM>(bu + off, L.vu[mt][i]);
                        load_words<VW, STREAM>(bl + off, L.vl[mt][i]);
                    }
                }
                return;
            }
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                for (int r = 0; r < 2; ++r) L.vp[mt][r] = __ldg(vP + p0 + 16 * mt + g + 8 * r);
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const size_t pos = p0 + 16 * mt + 2 * j + (i & 1) + 8 * (i >> 1);
                    load_words<VW, STREAM>(vUr + pos * (HD / 2), L.vu[mt][i]);
                    load_words<VW, STREAM>(vLr + pos * (HD / 2), L.vl[mt][i]);
                }
            }
        };
        auto loadUnit = [&](Loads& L, int p0) {
            loadKeys(L, p0);
            loadValues(L, p0);
        };
        // PF: the key params of the warp's next group wait in registers (KPF chunks per lane) and go through
        // the warp's smem slot at the group change, so a group change never waits on a global load.
        const uint4* kpAll = reinterpret_cast<const uint4*>(kParams + (size_t)kvHead * maxGroups * HD);  // chunks
        uint4 kpre[KPF];
        if (PF && u0 < u1) {
            const int g0 = (qStart + u0 * UNIT) / groupSize;
#pragma unroll
            for (int i = 0; i < KPF; ++i)
                if (i * 32 + lane < KPC) kpre[i] = __ldg(kpAll + (size_t)g0 * KPC + i * 32 + lane);
        }
        Loads cur;
        if (PF && u0 < u1) loadUnit(cur, qStart + u0 * UNIT);
        if (SPLIT && u0 < u1) loadKeys(cur, qStart + u0 * UNIT);
        // LEAN: the unit's key group by a counter: grpL, positions left in it leftL
        int grpL = 0, leftL = 0;
        if (LEAN && u0 < u1) {
            grpL = (qStart + u0 * UNIT) / groupSize;
            leftL = groupSize - (qStart + u0 * UNIT - grpL * groupSize);
        }
        // KASYNC: group gr's params go to smKA[2 * warp + (gr & 1)] (skewed: thread j's HD/16 chunks then one spare);
        // the first two groups now, group gr + 2 once group gr's have been read; only groups the warp's units reach
        const int pEnd = qStart + u1 * UNIT;
        auto kpAsync = [&](int gr) {
            if (gr * groupSize < pEnd) {
#pragma unroll
                for (int i = 0; i < KPF; ++i) {
                    const int e = i * 32 + lane;
                    if (e < KPC)
                        cp16(&smKA[2 * warp + (gr & 1)][(e / (HD / 16)) * KPB + e % (HD / 16)], kpAll + (size_t)gr * KPC + e);
                }
            }
            cp_commit();
        };
        if (KASYNC && u0 < u1) {
            const int g0 = (qStart + u0 * UNIT) / groupSize;
            kpAsync(g0);
            kpAsync(g0 + 1);
        }
        int curGroup = -1;
        for (int u = u0; u < u1; ++u) {
            const int p0 = qStart + u * UNIT;
            // ---- issue the loads (PF: of the next unit; the current one's are in flight since the last step)
            Loads nxt;
            if constexpr (PF) {
                if (u + 1 < u1) loadUnit(nxt, p0 + UNIT);
            } else if constexpr (SPLIT) {
                loadValues(cur, p0);  // the keys: since the previous unit's scores
            } else {
                loadUnit(cur, p0);
            }
            auto& ku = cur.ku;
            auto& kl = cur.kl;
            auto& vu = cur.vu;
            auto& vl = cur.vl;
            auto& vp = cur.vp;
            // ---- the key group's query weights and bias (when the group changes)
            int grp;
            bool newGroup;
            if constexpr (LEAN) {
                newGroup = u == u0 || leftL == 0;
                if (leftL == 0) {
                    ++grpL;
                    leftL = groupSize;
                }
                leftL -= UNIT;
                grp = grpL;
            } else {
                grp = p0 / groupSize;
                newGroup = grp != curGroup;
            }
            if (newGroup) {
                curGroup = grp;
                const uint2* kp;  // thread j's channels j HD/4 .. as 8-byte words of two half2 (s, m)
                if constexpr (KASYNC) {
                    cp_wait<1>();  // this group's copy (the most recent one is the next group's)
                    __syncwarp();
                    kp = reinterpret_cast<const uint2*>(&smKA[2 * warp + (grp & 1)][j * KPB]);
                } else if constexpr (PF) {
                    __syncwarp();
#pragma unroll
                    for (int i = 0; i < KPF; ++i) {
                        const int e = i * 32 + lane;
                        if (e < KPC) smKP[warp][(e / (HD / 16)) * KPB + e % (HD / 16)] = kpre[i];
                    }
                    __syncwarp();
                    if (grp + 1 < maxGroups) {
#pragma unroll
                        for (int i = 0; i < KPF; ++i)
                            if (i * 32 + lane < KPC) kpre[i] = __ldg(kpAll + (size_t)(grp + 1) * KPC + i * 32 + lane);
                    }
                    kp = reinterpret_cast<const uint2*>(&smKP[warp][j * KPB]);
                } else {
                    kp = reinterpret_cast<const uint2*>(kpAll + (size_t)grp * KPC + j * (HD / 16));
                }
                float bpart[NT];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) bpart[nt] = 0.0f;
#pragma unroll
                for (int w = 0; w < KW; ++w) {
                    float sc[8], off[8];
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        // (s, m): channels 8w+2i, 8w+2i+1
                        const float4 p = qs_kv_param_pair(PF || KASYNC ? kp[4 * w + i] : __ldg(kp + 4 * w + i));
                        sc[2 * i] = p.x * 0.0625f;
                        off[2 * i] = fmaf(7.5f, p.x, p.y);
                        sc[2 * i + 1] = p.z * 0.0625f;
                        off[2 * i + 1] = fmaf(7.5f, p.z, p.w);
                    }
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        const float* qr = &smQ[nt * 8 + g][j * (HD / 4 + 4) + 8 * w];
                        const float4 qa = *reinterpret_cast<const float4*>(qr);
                        const float4 qb = *reinterpret_cast<const float4*>(qr + 4);
                        const float x[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
                        float wv[8];
#pragma unroll
                        for (int c = 0; c < 8; ++c) wv[c] = x[c] * sc[c];
                        const uint32_t hw[4] = {pack_half2(wv[0], wv[2]), pack_half2(wv[4], wv[6]),
                                                pack_half2(wv[1], wv[3]), pack_half2(wv[5], wv[7])};
                        setB(nt, 2 * w, hw[0], hw[1]);
                        setB(nt, 2 * w + 1, hw[2], hw[3]);
                        float b = bpart[nt];
#pragma unroll
                        for (int c = 0; c < 8; ++c) b = fmaf(x[c], off[c], b);
#pragma unroll
                        for (int k = 0; k < 4 && !BMMA; ++k) {
                            const float2 f = unpack_half2(hw[k]);
                            b = fmaf(-1152.0f, f.x, b);
                            b = fmaf(-1152.0f, f.y, b);
                        }
                        bpart[nt] = b;
                    }
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    float b = bpart[nt];
                    b += __shfl_xor_sync(QS_FULL_MASK, b, 1);
                    b += __shfl_xor_sync(QS_FULL_MASK, b, 2);  // column nt*8 + g, in all 4 lanes of row g
                    bias[nt][0] = __shfl_sync(QS_FULL_MASK, b, 8 * j);
                    bias[nt][1] = __shfl_sync(QS_FULL_MASK, b, 8 * j + 4);
                    if constexpr (BMMA) {  // D = 1 B: every row holds sum_k B[k][col], [e] = column 2j + e
                        const uint32_t one = 0x3C003C00u;
                        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
                        for (int ks = 0; ks < KS; ++ks) {
                            const uint2 bb = getB(nt, ks);
                            mma16816(d, one, one, one, one, bb.x, bb.y);
                        }
                        bias[nt][0] = fmaf(-1152.0f, d[0], bias[nt][0]);
                        bias[nt][1] = fmaf(-1152.0f, d[1], bias[nt][1]);
                    }
                }
                if constexpr (KASYNC) {
                    __syncwarp();  // every lane has read this group's buffer: it takes group grp + 2
                    kpAsync(grp + 2);
                }
            }
            // ---- scores
            float s[TM][NT][4];
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    s[mt][nt][0] = s[mt][nt][2] = bias[nt][0];
                    s[mt][nt][1] = s[mt][nt][3] = bias[nt][1];
                }
#pragma unroll
                for (int w = 0; w < KW; ++w) {
                    uint32_t Eg, Og, E8, O8;
                    c8_bytes(ku[mt][0][w], kl[mt][0][w], Eg, Og);
                    c8_bytes(ku[mt][1][w], kl[mt][1][w], E8, O8);
                    const uint32_t ae0 = __byte_perm(Eg, K64, 0x4140), ae1 = __byte_perm(E8, K64, 0x4140);
                    const uint32_t ae2 = __byte_perm(Eg, K64, 0x4342), ae3 = __byte_perm(E8, K64, 0x4342);
                    const uint32_t ao0 = __byte_perm(Og, K64, 0x4140), ao1 = __byte_perm(O8, K64, 0x4140);
                    const uint32_t ao2 = __byte_perm(Og, K64, 0x4342), ao3 = __byte_perm(O8, K64, 0x4342);
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        if (nt >= ntUsed) continue;
                        const uint2 be = getB(nt, 2 * w), bo = getB(nt, 2 * w + 1);
                        mma16816(s[mt][nt], ae0, ae1, ae2, ae3, be.x, be.y);
                        mma16816(s[mt][nt], ao0, ao1, ao2, ao3, bo.x, bo.y);
                    }
                }
            }
            if constexpr (SPLIT) {
                if (u + 1 < u1) loadKeys(cur, p0 + UNIT);  // the key registers are dead: next unit's keys
            }
            rescale(s);
            // ---- probabilities (value scale folded in) and O^T += V^T P^T
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
                uint32_t bp[NT][2];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        const float2 vpf = qs_kv_param_f(vp[mt][r]);
                        const float vs = vpf.x * 0.0625f;
                        const float voff = fmaf(7.5f, vpf.x, vpf.y);
                        float p[2], pp[2];
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            p[e] = ex2(s[mt][nt][2 * r + e] - runMax[nt][e]);
                            runSum[nt][e] += p[e];
                            pp[e] = p[e] * vs;
                        }
                        const uint32_t h = pack_half2(pp[0], pp[1]);
                        const float2 f = unpack_half2(h);
                        base[nt][0] = fmaf(p[0], voff, fmaf(-1152.0f, f.x, base[nt][0]));
                        base[nt][1] = fmaf(p[1], voff, fmaf(-1152.0f, f.y, base[nt][1]));
                        bp[nt][r] = movtrans(h);
                    }
                }
#pragma unroll
                for (int w = 0; w < VW; ++w) {
                    uint32_t E[4], O[4];
#pragma unroll
                    for (int i = 0; i < 4; ++i) c8_bytes(vu[mt][i][w], vl[mt][i][w], E[i], O[i]);
                    // pairs A = positions (2j, 2j+1), B = (2j+8, 2j+9): bytes of channel pairs interleaved
                    const uint32_t xEA = __byte_perm(E[0], E[1], 0x5140), yEA = __byte_perm(E[0], E[1], 0x7362);
                    const uint32_t xOA = __byte_perm(O[0], O[1], 0x5140), yOA = __byte_perm(O[0], O[1], 0x7362);
                    const uint32_t xEB = __byte_perm(E[2], E[3], 0x5140), yEB = __byte_perm(E[2], E[3], 0x7362);
                    const uint32_t xOB = __byte_perm(O[2], O[3], 0x5140), yOB = __byte_perm(O[2], O[3], 0x7362);
#pragma unroll
                    for (int mm = 0; mm < 4; ++mm) {
                        const uint32_t sel = (mm & 1) ? 0x4342 : 0x4140;
                        const uint32_t a0 = __byte_perm(mm < 2 ? xEA : yEA, K64, sel);
                        const uint32_t a1 = __byte_perm(mm < 2 ? xOA : yOA, K64, sel);
                        const uint32_t a2 = __byte_perm(mm < 2 ? xEB : yEB, K64, sel);
                        const uint32_t a3 = __byte_perm(mm < 2 ? xOB : yOB, K64, sel);
#pragma unroll
                        for (int nt = 0; nt < NT; ++nt) {
                            if (nt >= ntUsed) continue;
                            mma16816(acc[4 * w + mm][nt], a0, a1, a2, a3, bp[nt][0], bp[nt][1]);
                        }
                    }
                }
            }
            if constexpr (PF) cur = nxt;
        }
    } else if (u0 < u1) {
        // ---- the fp16 buffer: natural channel order, query weights = q * scaleLog2
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            const float* qr = &smQ[nt * 8 + g][j * (HD / 4 + 4)];
#pragma unroll
            for (int s = 0; s < KS; ++s)
                setB(nt, s, pack_half2(qr[4 * s], qr[4 * s + 1]), pack_half2(qr[4 * s + 2], qr[4 * s + 3]));
        }
        const __half* kB = bufK + (size_t)kvHead * bufCapacity * HD + j * (HD / 4);
        const __half* vB = bufV + (size_t)kvHead * bufCapacity * HD + g * (HD / 8);
        const int lastVisible = bufRow0 + firstQuery;  // + qi
        for (int u = u0; u < u1; u += WARPS) {
            const int r0 = 16 * u;
            uint32_t kw[2][HD / 8], vw[4][HD / 16];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int row = r0 + g + 8 * r;
                load_halves<HD / 8>(kB + (size_t)(row < nRows ? row : 0) * HD, kw[r]);
            }
            auto loadV = [&]() {
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = r0 + 2 * j + (i & 1) + 8 * (i >> 1);
                    load_halves<HD / 16>(vB + (size_t)(row < nRows ? row : 0) * HD, vw[i]);
                }
            };
            if constexpr (!BQSM) loadV();  // BQSM (fewer registers): after the scores
            float s[1][NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int i = 0; i < 4; ++i) s[0][nt][i] = 0.0f;
                if (nt >= ntUsed) continue;
#pragma unroll
                for (int ks = 0; ks < KS; ++ks) {
                    const uint2 b = getB(nt, ks);
                    mma16816(s[0][nt], kw[0][2 * ks], kw[1][2 * ks], kw[0][2 * ks + 1], kw[1][2 * ks + 1], b.x, b.y);
                }
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = r0 + g + 8 * (i >> 1);
                    const int qi = (nt * 8 + 2 * j + (i & 1)) / HPB;
                    if (qi >= nq || row > lastVisible + qi) s[0][nt][i] = -INFINITY;
                }
            }
            if constexpr (BQSM) loadV();
            rescale(s);
            uint32_t bp[NT][2];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    float p[2];
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        p[e] = nt < ntUsed ? ex2(s[0][nt][2 * r + e] - runMax[nt][e]) : 0.0f;
                        runSum[nt][e] += p[e];
                    }
                    bp[nt][r] = movtrans(pack_half2(p[0], p[1]));
                }
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                const uint32_t a0 = __byte_perm(vw[0][mt], vw[1][mt], 0x5410);
                const uint32_t a1 = __byte_perm(vw[0][mt], vw[1][mt], 0x7632);
                const uint32_t a2 = __byte_perm(vw[2][mt], vw[3][mt], 0x5410);
                const uint32_t a3 = __byte_perm(vw[2][mt], vw[3][mt], 0x7632);
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    if (nt >= ntUsed) continue;
                    mma16816(acc[mt][nt], a0, a1, a2, a3, bp[nt][0], bp[nt][1]);
                }
            }
        }
    }

    // ---- merge the 4 warps (the value offsets join the accumulators) and write the partials, one n-tile at a
    // time (8 columns of smAcc: 24 columns of 4 warps would pass the 48 KB of static shared memory)
    if constexpr (BQSM) __syncthreads();  // smAcc aliases the B fragments of warps that may still be in their loop
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        if (nt >= ntUsed) break;  // block-uniform: no real query past here
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            float sm = runSum[nt][e], b = base[nt][e];
#pragma unroll
            for (int o = 4; o < 32; o <<= 1) {
                sm += __shfl_xor_sync(QS_FULL_MASK, sm, o);
                b += __shfl_xor_sync(QS_FULL_MASK, b, o);
            }
            const int c = 2 * j + e;
            if (g == 0) {
                smMax[warp][nt * 8 + c] = runMax[nt][e];
                smSum[warp][nt * 8 + c] = sm;
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                smAcc[warp][c][g * (HD / 8) + 2 * mt] = acc[mt][nt][e] + b;
                smAcc[warp][c][g * (HD / 8) + 2 * mt + 1] = acc[mt][nt][2 + e] + b;
            }
        }
        __syncthreads();
        for (int idx = threadIdx.x; idx < 8 * HD; idx += THREADS) {
            const int c = idx / HD, d = idx % HD;
            const int col = nt * 8 + c;
            const int qi = col / HPB;
            if (qi >= nq) break;  // columns grow with idx: the rest are padding
            float m = QS_ATTN_NO_SCORE;
#pragma unroll
            for (int w = 0; w < WARPS; ++w) m = fmaxf(m, smMax[w][col]);
            float sum = 0.0f, a = 0.0f;
#pragma unroll
            for (int w = 0; w < WARPS; ++w) {
                const float wt = exp2f(smMax[w][col] - m);
                sum = fmaf(smSum[w][col], wt, sum);
                a = fmaf(smAcc[w][c][d], wt, a);
            }
            const int head = kvHead * GROUP + slice * HPB + col % HPB;
            const size_t slot = ((size_t)qi * nHeads + head) * slots + chunk;
            partialAcc[slot * HD + d] = a;
            if (d == 0) {
                partialMax[slot] = m;
                partialSum[slot] = sum;
            }
        }
        __syncthreads();
    }
}

// The split of the graph entry: chunks of whole key groups, as QuantizedDecodeAttention.split (host).
__device__ __forceinline__ int qs6_chunk_len(int quantized, int maxChunks, int groupSize) {
    const int per = (quantized + maxChunks - 1) / maxChunks;
    return max(groupSize, (per + groupSize - 1) / groupSize * groupSize);
}

// Entry points (valueGroupSize must equal the head dim; G a multiple of 16 * TM):
// (a) qs_qattn6_b8_h{HD}_g{G}_p{HPB}_q5_t{TM}_f{PF}_b{MINB} (PF: prefetch; MINB: __launch_bounds__ min blocks): the argument
//     list of qs_qattn_b8_* (quantkv.cuh, with its pass-header tail), same two modes. header == nullptr: host
//     lengths quantized, bufLen, chunkLen, numChunks (counting the buffer chunk), `queries` (1..8; 1..6 at HPB 4)
//     queries that are the last rows of the buffer; header != nullptr: quantized = header[1], bufRow0 = header[2], split of
//     maxChunks = numChunks - 1 derived here (quantized, bufLen and chunkLen ignored). q of launch query qi at
//     q + qi * qRowStride. grid (numChunks * G/HPB, nKvHeads), block 128.
// (b) qs_qattn6g_b8_h{HD}_g{G}_p{HPB}_t{TM}_f{PF}_b{MINB}: graph-safe. header[1] = quantized length, header[2] = bufRow0; the
//     launch's nq (1..8; 1..6 at HPB 4: qs6::maxQueries) queries are q + qi * qRowStride (head h at + h * HD),
//     query qi being the verification's query firstQuery + qi: it sees buffer rows [0, bufRow0 + firstQuery + qi]. grid ((maxChunks + 1) * G/HPB,
//     nKvHeads): chunk c < maxChunks covers the c-th chunk of the host split of header[1] (neutral partial if
//     none), chunk maxChunks the buffer. Partials [nq * nHeads][maxChunks + 1][HD]; combine with
//     qs_attn_combine(..., numChunks = maxChunks + 1, headDim, lastPosition = nullptr, 0) over nq * nHeads rows.
#define QS_QATTN6_DEF(HD, G, HPB, TM, PF, MINB, HNAME, GNAME, MODE)                                                \
    extern "C" __global__ void __launch_bounds__(qs6::THREADS, MINB) HNAME(\
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,   \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                               \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                               \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,     \
        float* __restrict__ partialMax, float* __restrict__ partialSum, int quantized, int bufLen,            \
        int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize, int chunkLen,        \
        int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,           \
        int qRowStride) {                                                                                     \
        const int chunk = blockIdx.x / ((G) / (HPB));                                                         \
        int bufRow0;                                                                                          \
        if (header != nullptr) {                                                                              \
            quantized = header[1];                                                                            \
            chunkLen = qs6_chunk_len(quantized, numChunks - 1, groupSize);                                    \
            bufRow0 = header[2];                                                                              \
        } else {                                                                                              \
            bufRow0 = bufLen - queries - firstQuery;                                                          \
        }                                                                                                     \
        const int qs = min(chunk * chunkLen, quantized);                                                      \
        qs_qattn6_body<HD, G, HPB, TM, PF, MODE>(q, qRowStride, kUpper, kLower, vUpper, vLower, kParams, vParams, bufK,  \
                                       bufV, partialAcc, partialMax, partialSum, chunk == numChunks - 1, qs,  \
                                       min(qs + chunkLen, quantized), chunk, numChunks, bufRow0, firstQuery,  \
                                       queries, capacity, maxGroups, bufCapacity, groupSize, scaleLog2);      \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(qs6::THREADS, MINB) GNAME(\
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,   \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                               \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                               \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,     \
        float* __restrict__ partialMax, float* __restrict__ partialSum, const int* __restrict__ header,       \
        int firstQuery, int nq, int qRowStride, int capacity, int maxGroups, int bufCapacity, int groupSize,  \
        int valueGroupSize, int maxChunks, float scaleLog2) {                                                 \
        if ((MODE) & 256) qs6::prefetch_q<HD, G, HPB>(q, qRowStride, nq, 8 * qs6::ntiles(HPB));              \
        const int chunk = blockIdx.x / ((G) / (HPB));                                                         \
        const int quantized = header[1];                                                                      \
        const int chunkLen = qs6_chunk_len(quantized, maxChunks, groupSize);                                  \
        const bool isBuffer = chunk == maxChunks;                                                             \
        const int qs = min(chunk * chunkLen, quantized);                                                      \
        qs_qattn6_body<HD, G, HPB, TM, PF, MODE>(q, qRowStride, kUpper, kLower, vUpper, vLower, kParams, vParams, bufK,  \
                                       bufV, partialAcc, partialMax, partialSum, isBuffer, qs,                \
                                       min(qs + chunkLen, quantized), chunk, maxChunks + 1, header[2],        \
                                       firstQuery, nq, capacity, maxGroups, bufCapacity, groupSize,          \
                                       scaleLog2);                                                            \
    }
// the engine's names: f0 runs qs6::DEFAULT_MODE, f1 (register prefetch) mode 0
#define QS_QATTN6_ENTRIES(HD, G, HPB, TM, PF, MINB)                                                                \
    QS_QATTN6_DEF(HD, G, HPB, TM, PF, MINB, qs_qattn6_b8_h##HD##_g##G##_p##HPB##_q5_t##TM##_f##PF##_b##MINB,       \
                  qs_qattn6g_b8_h##HD##_g##G##_p##HPB##_t##TM##_f##PF##_b##MINB, (PF) ? 0 : qs6::DEFAULT_MODE)
// explicit MODE M, PF = 0 (harness variants): qs_qattn6_b8_h{HD}_g{G}_p{HPB}_q5_t{TM}_m{M}_b{MINB} / qs_qattn6g_.._m{M}_b{MINB}
#define QS_QATTN6M_ENTRIES(HD, G, HPB, TM, M, MINB)                                                                \
    QS_QATTN6_DEF(HD, G, HPB, TM, 0, MINB, qs_qattn6_b8_h##HD##_g##G##_p##HPB##_q5_t##TM##_m##M##_b##MINB,         \
                  qs_qattn6g_b8_h##HD##_g##G##_p##HPB##_t##TM##_m##M##_b##MINB, M)

QS_QATTN6_ENTRIES(128, 1, 1, 2, 0, 3)
QS_QATTN6_ENTRIES(128, 1, 1, 1, 0, 4)
QS_QATTN6_ENTRIES(128, 1, 1, 1, 1, 3)
QS_QATTN6_ENTRIES(128, 1, 1, 2, 1, 2)
QS_QATTN6_ENTRIES(128, 4, 1, 1, 0, 4)
QS_QATTN6_ENTRIES(128, 4, 1, 1, 1, 3)
QS_QATTN6_ENTRIES(128, 4, 2, 1, 0, 2)
QS_QATTN6_ENTRIES(128, 4, 2, 1, 1, 1)
QS_QATTN6_ENTRIES(128, 4, 4, 1, 0, 2)
QS_QATTN6_ENTRIES(128, 2, 1, 1, 1, 3)
QS_QATTN6_ENTRIES(64, 1, 1, 1, 1, 4)
QS_QATTN6_ENTRIES(64, 2, 1, 1, 1, 4)
QS_QATTN6_ENTRIES(64, 4, 1, 1, 1, 4)

// ================================================================================================================
// Version 7: the INT4 draft attention (upper nibbles only, k = u*s + m, v = u*s_t + m_t, plus the fp16 buffer) on
// tensor cores, built from version 6. See native-kernels/QUANTKV-NOTES.md, "Version 7".
//
// Columns: one n-tile of 8 columns, col = qi * HPB + hs (query qi of the launch, head slot hs of the block's HPB
// query heads); with one query the MHA layer uses 1 column of 8 (the issue cost is in the dequantization, not the
// MMA), GQA 4 uses 4. A launch may carry up to 8 / HPB queries (columns of the others are zero / masked).
// Codes: a 16-bit half of a code word holds 4 channels (nibbles at bits 0, 4, 8, 12); nibble k of BOTH halves is
// moved to bits 4..7 (k = 0: << 4, 1: none, 2: >> 4, 3: >> 8) and OR-ed into 0x6400, so one LOP3 (+ one shift for
// k != 1) gives half2 (1024 + 16u, 1024 + 16u') exactly, units s/16 as version 6's c8.
// Keys: thread j = lane % 4 owns channels [j*HD/4, (j+1)*HD/4) of a position (16 bytes at HD 128); its word w
// (channels 8w..8w+7) gives R_k = (channel 8w+k, channel 8w+k+4), k = 0..3; k-slice 2w is (a0, a2) = (R_0, R_1) of
// row g and (a1, a3) of row g+8, with B = (B[8w], B[8w+4]), (B[8w+1], B[8w+5]); k-slice 2w+1 uses R_2, R_3.
// B = fp16(q scaleLog2 s / 16), the accumulator starts at  sum_c q_c (m_c + 7.5 s_c) - 1144 sum_c B_c, so the
// score is sum_c B_c (16u - 120) + ... (centred: the fp16 rounding of B multiplies |u - 7.5| <= 7.5 steps).
// Values: thread g owns channels [g*HD/8, (g+1)*HD/8) (8 bytes at HD 128) of positions 2j, 2j+1, 2j+8, 2j+9; a PRMT
// puts channels 0..3 (or 4..7) of a word of two positions into the two halves of one word, so the same nibble
// extraction gives (channel c at position p, channel c at position p+1): an A register. m-tile mt row g is
// channel g*HD/8 + 2mt, row g+8 channel g*HD/8 + 2mt + 1 (as version 6). P^T by movmatrix, value scale folded
// into P (B = fp16(p s_t / 16)), offset p (m_t + 7.5 s_t) - 1144 B in a per-column fp32 sum.
// ================================================================================================================
namespace qs7 {
// Round 3 (MODE & 16): a word's four half2 (1024 + 16 n_lo, 1024 + 16 n_hi), one per nibble slot, in 1 shift +
// 2 multiplies + 4 LOP3 (was 3 shifts + 8 LOP3: a LOP3 takes one immediate, so the compiler split each
// `(y & mask) | 0x64006400` in two). The
// magic 0x64006400 is the register operand of every LOP3; the left shifts by 4 are IMAD (FMA pipe, not ALU). The
// asm keeps the compiler from folding ((x >> 8) * 16) & mask back into a second right shift.
__device__ __forceinline__ void nib4(uint32_t x, uint32_t magic, uint32_t (&r)[4]) {
    asm("{\n\t.reg .b32 y, x4, y4;\n\t"
        "shr.b32 y, %4, 8;\n\t"
        "mul.lo.u32 x4, %4, 16;\n\t"
        "mul.lo.u32 y4, y, 16;\n\t"
        "lop3.b32 %0, x4, 0x00F000F0, %5, 0xEA;\n\t"
        "lop3.b32 %1, %4, 0x00F000F0, %5, 0xEA;\n\t"
        "lop3.b32 %2, y4, 0x00F000F0, %5, 0xEA;\n\t"
        "lop3.b32 %3, y, 0x00F000F0, %5, 0xEA;\n\t}"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "r"(x), "r"(magic));
}
// Round 6 (MODE & (1 << 19), keys): the four half2 of a word in 1 shift + 4 LOP3 (no multiplies):
// r[0] = (1024 + n0, 1024 + n4), r[1] = (1024 + 16 n1, 1024 + 16 n5), r[2] = (1024 + n2, 1024 + n6),
// r[3] = (1024 + 16 n3, 1024 + 16 n7): the nibbles of even k decode at scale 1, those of odd k at scale 16 (the
// caller folds the two scales into the query weights and the bias).
__device__ __forceinline__ void nib4s(uint32_t x, uint32_t magic, uint32_t (&r)[4]) {
    asm("{\n\t.reg .b32 y;\n\t"
        "shr.b32 y, %4, 8;\n\t"
        "lop3.b32 %0, %4, 0x000F000F, %5, 0xEA;\n\t"
        "lop3.b32 %1, %4, 0x00F000F0, %5, 0xEA;\n\t"
        "lop3.b32 %2, y, 0x000F000F, %5, 0xEA;\n\t"
        "lop3.b32 %3, y, 0x00F000F0, %5, 0xEA;\n\t}"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "r"(x), "r"(magic));
}
__device__ __forceinline__ void cp16(void* smem, const void* gmem) {  // cp.async, 16 bytes, L2 only
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(a), "l"(gmem));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;"); }
template <int N>
__device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }
// 2^x: exp2f (ex2.approx.f32 + subnormal handling), or with FTZ one ex2.approx.ftz (a subnormal result is 0: a
// probability below 2^-126 of the running max)
template <bool FTZ>
__device__ __forceinline__ float ex2(float x) {
    if constexpr (FTZ) {
        float y;
        asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
        return y;
    } else {
        return exp2f(x);
    }
}
// The mode of the engine's f0 entries: round 2 (bench-results/h200-2026-11-29-mma-draft-round2.md) split-phase key
// loads + key params by cp.async (1 | 2); 4 (values by cp.async) and 8 (flushed exponentials) measured no better.
// Round 3 (h200-2026-11-29-mma-draft-round3.md): + 16, the lean unit loop (nib4 decode, constant-offset loads, group
// counter; same bits): 1.20-1.27x at 32K-256K; + 8, flushed exponentials, now 1-6 % faster than 19 (round 2: neutral;
// same bits on every test, a probability below 2^-126 of the running max becomes 0); 64 (one-query MHA softmax) and
// 128 (values one unit ahead) no better.
// Rounds 6 / 6b and the sixth session (h200-2026-11-29-mma-draft-regpipe.md, -round6.md, BENCHMARKS.md 22:29 UTC):
// + 1 << 19, the keys by nib4s: graph entry -1.8 / -3.4 / -3.2 / -2.5 % at 8K / 32K / 128K / 256K (Llama-2-7B), -3.8 /
// -5.2 % at 128K / 256K (Llama-3.1-8B), nothing slower, the same worst error against the double reference (4.78e-4).
// Its price: the even channels' fp16 query weights are q * s instead of q * s / 16, finite while |q| * s < 5.1e5 (an
// overflow would only cost acceptance, never the output, which the target verifies). Measured and left out of this
// header (QUANTKV-NOTES rounds 5-7; their code is in git history, a57cbd1 and be44442): a TMA bulk-copy ring, and the
// values by nib4s (an fp32 drift on the 1031 offset breaks the 2e-3 bound unless flushed, and the flush costs the gain).
// Seventh session (QUANTKV-NOTES "round 8"): + 1 << 22 | 1 << 23, keys and values decode to fp16 subnormals (no
// offset at all: the value side takes nib4s too, and its drift is gone), + 1 << 24, a one-query launch computes its
// HPB real columns' key weights once per column instead of once per lane row (8 / HPB lane rows share the work). Against 27 | 1 << 19 in the same
// H200 calls (mma9 harness): -3.5 to -5 % at 128K-256K on both layers, and the worst error against the double
// reference halves (2.3e-4 instead of 4.4e-4; 2.7e-4 instead of 3.4e-3 with 32K positions per warp).
constexpr int DEFAULT_MODE = 27 | (1 << 19) | (1 << 22) | (1 << 23) | (1 << 24);
}  // namespace qs7

// MODE (bits; the engine's f0 entries run qs7::DEFAULT_MODE, the mma9 harness the rounds' variants; every mode has
// 1 | 2 | 16): 1 = split-phase pipeline: a unit's key codes are loaded one unit ahead, right after the previous unit's
// score MMAs (its key code registers are dead then, so no extra registers: the value phase of unit u overlaps the
// DRAM latency of unit u + 1's keys; the value codes and params are loaded at the top of their own unit). 2 = the key
// params of the next group go to shared memory by cp.async one group ahead (two buffers per warp, no registers).
// 8 = the softmax exponentials flush subnormal results (one MUFU each). 16 = the lean unit loop (constant-offset loads
// from one row pointer per plane and unit, the key group by a counter). The decode bits 1 << 19 and 1 << 22..24 are
// described below. Lost variants (register prefetch, cp.async and TMA pipelines, values one unit ahead, one-query
// softmax; QUANTKV-NOTES rounds 1-7) left this body; their code is in git history (before the seventh session's
// clean-up, e.g. 83f666e).
// LAZY: the accumulators are rescaled only when some column's running max moved (corr != 1 in some lane; a multiply
// by 1.0f is exact, so the bits are the same as rescaling always).
template <int HD, int GROUP, int HPB, int TM, int MODE, bool LAZY>
__device__ __forceinline__ void qs_qattn7_body(
    const float* __restrict__ q, int qRowStride, const uint8_t* __restrict__ kUpper,
    const uint8_t* __restrict__ vUpper, const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,
    const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,
    float* __restrict__ partialMax, float* __restrict__ partialSum, bool isBuffer, int qStart, int qEnd, int chunk,
    int slots, int bufRow0, int firstQuery, int nq, int capacity, int maxGroups, int bufCapacity, int groupSize,
    float scaleLog2) {
    using namespace qs6;
    constexpr int NT = 1;
    constexpr int COLS = 8;
    constexpr int SLICES = GROUP / HPB;
    constexpr bool STREAM = SLICES == 1;
    constexpr int KS = HD / 16;             // key k-slices
    constexpr int KW = HD / 32;             // key code words per row and thread (upper plane only)
    constexpr int MT = HD / 16;             // value m-tiles (channels)
    constexpr int VW = HD / 64;             // value code words per position and thread
    constexpr int UNIT = 16 * TM;
    constexpr int SMP = HD + 4;
    // smQ row: HD floats in 4 blocks of HD/4 (thread j's channels), each block followed by 4 floats of skew, and a
    // row length = 16 mod 32: the float4 reads of row g, block j (key-group B fragments) hit 8 distinct 4-bank groups
    // per quarter warp (they were 32-way conflicted with rows of HD floats)
    constexpr int QB = HD / 4 + 4, SMQ = 4 * QB;
    static_assert(SMQ % 32 == 16, "smQ skew");
    constexpr int KPC = HD / 4;             // 16-byte chunks of a key group's params (4 channels' half2 each)
    constexpr int KPF = (KPC + 31) / 32;    // chunks per lane (HD 64: lanes 0..15 only)
    static_assert((MODE & (1 | 2 | 16)) == (1 | 2 | 16) && (MODE & (4 | 64 | 128)) == 0,
                  "version 7 runs split keys, cp.async key params and the lean loop (the other modes left the body)");
    constexpr bool FTZ = (MODE & 8) != 0;
    // round 6: 1 << 19 = keys by qs7::nib4s (no multiplies): channels 8w + k, 8w + k + 4 of an even k decode at
    // scale 1 (1024 + n), so their query weight is fp16(q scaleLog2 s) (16x the odd k's fp16(q scaleLog2 s / 16)) and
    // their bias centre 1031.5 (odd k: 1144); per key group only. Not bit-identical to mode 27.
    constexpr bool K5 = (MODE & (1 << 19)) != 0;
    // seventh session: codes as fp16 SUBNORMALS (nib4s masks without the 0x6400 exponent: slot bits 0..3 decode to
    // n 2^-24, bits 4..7 to n 2^-20; the tensor cores multiply subnormal halves exactly), so no code carries the 1024
    // offset. 1 << 22 = values: the nib4s decode (5 instructions per word instead of nib4's 7) without the offset
    // whose fp32 accumulation drifted in round 6b; P = fp16(p s_t) (no / 16), centred by -7.5 P in the column base,
    // rows g scaled by 2^24 and rows g + 8 by 2^20 at the merge. 1 << 23 (with 1 << 19) = keys: the group's bias is
    // the uncentred sum q m (no unpacked query weights, no centre FFMAs), carried at 2^-24 like the codes, as are
    // the scores (SUNIT: scaled where the softmax reads them).
    constexpr bool VDN = (MODE & (1 << 22)) != 0, KDN = (MODE & (1 << 23)) != 0;
    static_assert(!KDN || K5, "subnormal keys: with the nib4s key weights");
    constexpr float SUNIT = KDN ? 0x1p24f : 1.0f;  // the unit of the quantized scores
    constexpr bool SPREAD = (MODE & (1 << 24)) != 0;  // see keyGroupWeights
    static_assert(!SPREAD || KDN, "spread key weights: with the subnormal keys");
    constexpr int RB = HD / 2;              // bytes of a position's codes (one plane)
    static_assert(GROUP % HPB == 0 && 8 % HPB == 0 && (HD == 64 || HD == 128), "shape");

    __shared__ __align__(16) float smQ[COLS][SMQ];
    __shared__ float smMax[WARPS][COLS];
    __shared__ float smSum[WARPS][COLS];
    __shared__ __align__(16) uint8_t smRaw[WARPS * COLS * SMP * 4];  // the merge's partial sums
    auto& smAcc = *reinterpret_cast<float (*)[WARPS][COLS][SMP]>(smRaw);
    // a group's params as thread j's HD/16 chunks (its HD/4 channels) then one chunk of skew: the 8-byte reads of the
    // 4 lanes j of a row hit distinct banks
    constexpr int KPB = HD / 16 + 1;
    __shared__ __align__(16) uint4 smKP[2 * WARPS][4 * KPB];

    const int slice = blockIdx.x % SLICES;
    const int kvHead = blockIdx.y;
    const int nHeads = gridDim.y * GROUP;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2;
    const int j = lane & 3;

    for (int idx = threadIdx.x; idx < COLS * HD; idx += THREADS) {
        const int col = idx / HD, d = idx % HD;
        const int qi = col / HPB;
        const int head = kvHead * GROUP + slice * HPB + col % HPB;
        smQ[col][(d / (HD / 4)) * QB + d % (HD / 4)] =
            qi < nq ? q[(size_t)qi * qRowStride + (size_t)head * HD + d] * scaleLog2 : 0.0f;
    }
    __syncthreads();

    float acc[MT][NT][4];
    float runMax[NT][2], runSum[NT][2], base[NT][2], bias[NT][2];
    uint32_t bq[NT][KS][2];
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            runMax[nt][e] = QS_ATTN_NO_SCORE;
            runSum[nt][e] = 0.0f;
            base[nt][e] = 0.0f;
            bias[nt][e] = 0.0f;
        }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.0f;
#pragma unroll
        for (int s = 0; s < KS; ++s) bq[nt][s][0] = bq[nt][s][1] = 0u;
    }

    // sUnit: the scores' unit (KDN's quantized scores are held at 2^-24: a positive power of two keeps the max's
    // argument, so max(s) * sUnit and the exponentials' fmaf(s, sUnit, -max) round exactly as on scaled scores)
    auto rescale = [&](auto& s, float sUnit) {
        constexpr int T = sizeof(s) / sizeof(s[0]);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                float m = fmaxf(s[0][nt][e], s[0][nt][2 + e]);
#pragma unroll
                for (int t = 1; t < T; ++t) m = fmaxf(m, fmaxf(s[t][nt][e], s[t][nt][2 + e]));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 4));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 8));
                m = fmaxf(m, __shfl_xor_sync(QS_FULL_MASK, m, 16));
                m = fmaxf(runMax[nt][e], m * sUnit);
                const float corr = qs7::ex2<FTZ>(runMax[nt][e] - m);
                runMax[nt][e] = m;
                // __fmul_rn: never contracted into a later add, so the code of columns e = 0 / 1 (and of the lazy
                // branch's two paths) rounds alike: a query's bits do not depend on its column (batch invariance)
                runSum[nt][e] = __fmul_rn(runSum[nt][e], corr);
                base[nt][e] = __fmul_rn(base[nt][e], corr);
                if (LAZY && !__any_sync(QS_FULL_MASK, corr != 1.0f)) continue;  // warp-uniform
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    acc[mt][nt][e] = __fmul_rn(acc[mt][nt][e], corr);
                    acc[mt][nt][2 + e] = __fmul_rn(acc[mt][nt][2 + e], corr);
                }
            }
        }
    };

    // KDN: one k-slice of a key group's query weights for smQ row `row` (slice ks = 2w + h holds thread j's channels
    // 8w + 2h, 8w + 2h + 1 in r0 / r1's low halves and 8w + 2h + 4, 8w + 2h + 5 in their high halves, the order of
    // the nib4s key registers) and that slice's share of the bias, sum q m over its 4 channels
    auto keySlice = [&](const uint2* kp, int row, int ks, uint32_t& r0, uint32_t& r1) {
        const int w = ks >> 1, h = ks & 1;
        const float4 pa = qs_kv_param_pair(kp[4 * w + h]), pb = qs_kv_param_pair(kp[4 * w + h + 2]);
        const float* qr = &smQ[row][j * QB + 8 * w + 2 * h];
        const float2 xa = *reinterpret_cast<const float2*>(qr), xb = *reinterpret_cast<const float2*>(qr + 4);
        r0 = pack_half2(xa.x * pa.x, xb.x * pb.x);                        // even k: scale 1
        r1 = pack_half2(xa.y * (pa.z * 0.0625f), xb.y * (pb.z * 0.0625f));  // odd k: scale 16
        float b = xa.x * pa.y;
        b = fmaf(xa.y, pa.w, b);
        b = fmaf(xb.x, pb.y, b);
        return fmaf(xb.y, pb.w, b);
    };
    // KDN: a key group's query weights bq and biases. The slices' bias shares are summed as a balanced tree
    // ((s0 + s1) + (s2 + s3)) + ..., then over the 4 lanes j, in every path, so a query's bits do not depend on the
    // path. 1 << 24 (SPREAD): a one-query launch has HPB real columns of the 8, yet every lane row g computed its
    // own column's KS slices. Now the R = 8 / HPB lane rows of a column (g = c + HPB r) share its slices (ks = r + R i)
    // and gather the rest, with the leaves of the tree, by shuffles (R times fewer multiplies and conversions); rows
    // g >= HPB then repeat column g % HPB, whose scores are never written.
    const bool spread = SPREAD && nq == 1;  // block-uniform
    auto keyGroupWeights = [&](const uint2* kp) {
        if (spread) {
            constexpr int R = 8 / HPB, NS = (KS + R - 1) / R;
            const int c = g % HPB, r = g / HPB;
            uint32_t m0[NS], m1[NS];
            float mine[NS], leaf[KS];
#pragma unroll
            for (int i = 0; i < NS; ++i) mine[i] = keySlice(kp, c, (r + R * i) % KS, m0[i], m1[i]);
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) {
                const int src = 4 * (c + HPB * (ks % R)) + j;
                bq[0][ks][0] = __shfl_sync(QS_FULL_MASK, m0[ks / R], src);
                bq[0][ks][1] = __shfl_sync(QS_FULL_MASK, m1[ks / R], src);
                leaf[ks] = __shfl_sync(QS_FULL_MASK, mine[ks / R], src);
            }
#pragma unroll
            for (int span = 1; span < KS; span *= 2)
#pragma unroll
                for (int i = 0; i < KS; i += 2 * span) leaf[i] = leaf[i] + leaf[i + span];
            float b = leaf[0] * 0x1p-24f;  // in the codes' units
            b += __shfl_xor_sync(QS_FULL_MASK, b, 1);
            b += __shfl_xor_sync(QS_FULL_MASK, b, 2);  // column c, in every lane of its rows
            bias[0][0] = __shfl_sync(QS_FULL_MASK, b, 4 * ((2 * j) % HPB));
            bias[0][1] = __shfl_sync(QS_FULL_MASK, b, 4 * ((2 * j + 1) % HPB));
            return;
        }
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            float leaf[KS];
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) leaf[ks] = keySlice(kp, nt * 8 + g, ks, bq[nt][ks][0], bq[nt][ks][1]);
#pragma unroll
            for (int span = 1; span < KS; span *= 2)
#pragma unroll
                for (int i = 0; i < KS; i += 2 * span) leaf[i] = leaf[i] + leaf[i + span];
            float b = leaf[0] * 0x1p-24f;
            b += __shfl_xor_sync(QS_FULL_MASK, b, 1);
            b += __shfl_xor_sync(QS_FULL_MASK, b, 2);  // column nt*8 + g, in all 4 lanes of row g
            bias[nt][0] = __shfl_sync(QS_FULL_MASK, b, 8 * j);
            bias[nt][1] = __shfl_sync(QS_FULL_MASK, b, 8 * j + 4);
        }
    };

    const int nRows = isBuffer ? bufRow0 + firstQuery + nq : qEnd - qStart;
    const int nUnits = isBuffer ? (nRows + 15) / 16 : nRows / UNIT;
    const int u0 = isBuffer ? warp : warp * nUnits / WARPS;
    const int u1 = isBuffer ? nUnits : (warp + 1) * nUnits / WARPS;

    if (!isBuffer) {
        const size_t rowBase = (size_t)kvHead * capacity;
        const uint8_t* kUr = kUpper + rowBase * (HD / 2) + j * (HD / 8);
        const uint8_t* vUr = vUpper + rowBase * (HD / 2) + g * (HD / 16);
        const qs_kv_param* vP = vParams + rowBase;  // valueGroupSize == HD: one (s, m) per position
        struct Loads {
            uint32_t ku[TM][2][KW], vu[TM][4][VW];
            qs_kv_param vp[TM][2];  // converted at their use, so a load in flight is not waited for early
        };
        // row pointers of this thread's first row (g, 2j, g): one 64-bit multiply-add per unit and plane, every load
        // of the unit a constant offset from it
        const uint8_t* kUg = kUr + g * RB;
        const uint8_t* vUj = vUr + 2 * j * RB;
        const qs_kv_param* vPg = vP + g;
        auto loadKeys = [&](Loads& L, int p0) {
            const uint8_t* b = kUg + (size_t)p0 * RB;
#pragma unroll
            for (int mt = 0; mt < TM; ++mt)
#pragma unroll
                for (int r = 0; r < 2; ++r) load_words<KW, STREAM>(b + (16 * mt + 8 * r) * RB, L.ku[mt][r]);
        };
        auto loadValues = [&](Loads& L, int p0) {
            const uint8_t* b = vUj + (size_t)p0 * RB;
            const qs_kv_param* bp = vPg + p0;
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                for (int r = 0; r < 2; ++r) L.vp[mt][r] = __ldg(bp + 16 * mt + 8 * r);
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    load_words<VW, STREAM>(b + (16 * mt + (i & 1) + 8 * (i >> 1)) * RB, L.vu[mt][i]);
            }
        };
        const uint32_t magic = 0x64006400u;
        const uint4* kpAll = reinterpret_cast<const uint4*>(kParams + (size_t)kvHead * maxGroups * HD);  // chunks
        Loads cur;
        if (u0 < u1) loadKeys(cur, qStart + u0 * UNIT);
        // the unit's key group by a counter (no division per unit): grpL, positions left in it leftL
        int grpL = (qStart + u0 * UNIT) / groupSize;
        int leftL = groupSize - (qStart + u0 * UNIT - grpL * groupSize);
        // key params: group gr's go to smKP[2 * warp + (gr & 1)], lane: 16-byte chunk lane (HD 64: lanes < 16; skewed:
        // thread j's HD/16 chunks, then one of skew); the first two groups now, group gr + 2 once group gr's have been
        // read; only groups the warp's units reach (a short run must not read more params than before)
        const int pEnd = qStart + u1 * UNIT;
        auto kpAsync = [&](int gr) {
            if (gr * groupSize < pEnd) {
#pragma unroll
                for (int i = 0; i < KPF; ++i) {
                    const int e = i * 32 + lane;
                    if (e < KPC)
                        qs7::cp16(&smKP[2 * warp + (gr & 1)][(e / (HD / 16)) * KPB + e % (HD / 16)], kpAll + (size_t)gr * KPC + e);
                }
            }
            qs7::cp_commit();
        };
        if (u0 < u1) {
            const int g0 = (qStart + u0 * UNIT) / groupSize;
            kpAsync(g0);
            kpAsync(g0 + 1);
        }
        for (int u = u0; u < u1; ++u) {
            const int p0 = qStart + u * UNIT;
            loadValues(cur, p0);  // the keys came one unit ahead
            auto& ku = cur.ku;
            auto& vu = cur.vu;
            auto& vp = cur.vp;
            const bool newGroup = u == u0 || leftL == 0;
            if (leftL == 0) {
                ++grpL;
                leftL = groupSize;
            }
            leftL -= UNIT;
            const int grp = grpL;
            if (newGroup) {
                qs7::cp_wait<1>();  // this group's copy (the most recent one is the next group's)
                __syncwarp();
                // thread j's channels j HD/4 .. as 8-byte words of two half2 (s, m)
                const uint2* kp = reinterpret_cast<const uint2*>(&smKP[2 * warp + (grp & 1)][j * KPB]);
                if constexpr (KDN) {
                    keyGroupWeights(kp);
                } else {
                float bpart[NT];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) bpart[nt] = 0.0f;
#pragma unroll
                for (int w = 0; w < KW; ++w) {
                    float sc[8], off[8];
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        // channels 8w+2i, 8w+2i+1
                        const float4 p = qs_kv_param_pair(kp[4 * w + i]);
                        sc[2 * i] = K5 ? p.x : p.x * 0.0625f;  // K5: channel 8w + 2i has an even k
                        off[2 * i] = KDN ? p.y : fmaf(7.5f, p.x, p.y);
                        sc[2 * i + 1] = p.z * 0.0625f;
                        off[2 * i + 1] = KDN ? p.w : fmaf(7.5f, p.z, p.w);
                    }
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        const float* qr = &smQ[nt * 8 + g][j * QB + 8 * w];
                        const float4 qa = *reinterpret_cast<const float4*>(qr);
                        const float4 qb = *reinterpret_cast<const float4*>(qr + 4);
                        const float x[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
                        float wv[8];
#pragma unroll
                        for (int c = 0; c < 8; ++c) wv[c] = x[c] * sc[c];
                        bq[nt][2 * w][0] = pack_half2(wv[0], wv[4]);
                        bq[nt][2 * w][1] = pack_half2(wv[1], wv[5]);
                        bq[nt][2 * w + 1][0] = pack_half2(wv[2], wv[6]);
                        bq[nt][2 * w + 1][1] = pack_half2(wv[3], wv[7]);
                        const uint32_t hw[4] = {bq[nt][2 * w][0], bq[nt][2 * w][1], bq[nt][2 * w + 1][0],
                                                bq[nt][2 * w + 1][1]};
                        float b = bpart[nt];
#pragma unroll
                        for (int c = 0; c < 8; ++c) b = fmaf(x[c], off[c], b);
#pragma unroll
                        for (int k = 0; k < 4 && !KDN; ++k) {
                            const float2 f = unpack_half2(hw[k]);
                            const float cen = K5 && (k & 1) == 0 ? -1031.5f : -1144.0f;  // hw[k]: the nibbles of k
                            b = fmaf(cen, f.x, b);
                            b = fmaf(cen, f.y, b);
                        }
                        bpart[nt] = b;
                    }
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    float b = KDN ? bpart[nt] * 0x1p-24f : bpart[nt];  // KDN: in the codes' units
                    b += __shfl_xor_sync(QS_FULL_MASK, b, 1);
                    b += __shfl_xor_sync(QS_FULL_MASK, b, 2);  // column nt*8 + g, in all 4 lanes of row g
                    bias[nt][0] = __shfl_sync(QS_FULL_MASK, b, 8 * j);
                    bias[nt][1] = __shfl_sync(QS_FULL_MASK, b, 8 * j + 4);
                }
                }
                __syncwarp();  // every lane has read this group's buffer: it takes group grp + 2
                kpAsync(grp + 2);
            }
            // ---- scores
            float s[TM][NT][4];
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    s[mt][nt][0] = s[mt][nt][2] = bias[nt][0];
                    s[mt][nt][1] = s[mt][nt][3] = bias[nt][1];
                }
#pragma unroll
                for (int w = 0; w < KW; ++w) {
                    uint32_t r0[4], r8[4];
                    if constexpr (K5) {
                        qs7::nib4s(ku[mt][0][w], KDN ? 0u : magic, r0);
                        qs7::nib4s(ku[mt][1][w], KDN ? 0u : magic, r8);
                    } else {
                        qs7::nib4(ku[mt][0][w], magic, r0);
                        qs7::nib4(ku[mt][1][w], magic, r8);
                    }
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt) {
                        mma16816(s[mt][nt], r0[0], r8[0], r0[1], r8[1], bq[nt][2 * w][0], bq[nt][2 * w][1]);
                        mma16816(s[mt][nt], r0[2], r8[2], r0[3], r8[3], bq[nt][2 * w + 1][0], bq[nt][2 * w + 1][1]);
                    }
                }
            }
            // ku is dead: the next unit's keys fly during this unit's value phase
            if (u + 1 < u1) loadKeys(cur, p0 + UNIT);
            rescale(s, SUNIT);
            // ---- probabilities (value scale folded in) and O^T += V^T P^T
#pragma unroll
            for (int mt = 0; mt < TM; ++mt) {
                uint32_t bp[NT][2];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        const float2 vpf = qs_kv_param_f(vp[mt][r]);
                        const float vs = VDN ? vpf.x : vpf.x * 0.0625f;
                        const float voff = fmaf(7.5f, vpf.x, vpf.y);
                        constexpr float VCEN = VDN ? -7.5f : -1144.0f;  // the codes' centre in units of P
                        float p[2], pp[2];
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            p[e] = qs7::ex2<FTZ>(fmaf(s[mt][nt][2 * r + e], SUNIT, -runMax[nt][e]));
                            runSum[nt][e] += p[e];
                            pp[e] = p[e] * vs;
                        }
                        const uint32_t h = pack_half2(pp[0], pp[1]);
                        const float2 f = unpack_half2(h);
                        base[nt][0] = fmaf(p[0], voff, fmaf(VCEN, f.x, base[nt][0]));
                        base[nt][1] = fmaf(p[1], voff, fmaf(VCEN, f.y, base[nt][1]));
                        bp[nt][r] = movtrans(h);
                    }
                }
#pragma unroll
                for (int w = 0; w < VW; ++w) {
                    // channels 8w..8w+3 (L) / 8w+4..8w+7 (H) of positions (2j, 2j+1) (A) and (2j+8, 2j+9) (B)
                    const uint32_t AL = __byte_perm(vu[mt][0][w], vu[mt][1][w], 0x5410);
                    const uint32_t AH = __byte_perm(vu[mt][0][w], vu[mt][1][w], 0x7632);
                    const uint32_t BL = __byte_perm(vu[mt][2][w], vu[mt][3][w], 0x5410);
                    const uint32_t BH = __byte_perm(vu[mt][2][w], vu[mt][3][w], 0x7632);
                    uint32_t al[4], ah[4], bl[4], bh[4];
                    if constexpr (VDN) {  // rows g: slots 0 / 2 (n 2^-24), rows g + 8: slots 1 / 3 (n 2^-20)
                        qs7::nib4s(AL, 0u, al);
                        qs7::nib4s(BL, 0u, bl);
                        qs7::nib4s(AH, 0u, ah);
                        qs7::nib4s(BH, 0u, bh);
                    } else {
                        qs7::nib4(AL, magic, al);
                        qs7::nib4(BL, magic, bl);
                        qs7::nib4(AH, magic, ah);
                        qs7::nib4(BH, magic, bh);
                    }
                    const uint32_t a[4][4] = {{al[0], al[1], bl[0], bl[1]},
                                              {al[2], al[3], bl[2], bl[3]},
                                              {ah[0], ah[1], bh[0], bh[1]},
                                              {ah[2], ah[3], bh[2], bh[3]}};
#pragma unroll
                    for (int mm = 0; mm < 4; ++mm)
#pragma unroll
                        for (int nt = 0; nt < NT; ++nt)
                            mma16816(acc[4 * w + mm][nt], a[mm][0], a[mm][1], a[mm][2], a[mm][3], bp[nt][0],
                                     bp[nt][1]);
                }
            }
        }
        qs7::cp_wait<0>();  // no copy into shared memory outlives the loop
    } else if (u0 < u1) {
        // ---- the fp16 buffer (as version 6): natural channel order, query weights = q * scaleLog2
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            const float* qr = &smQ[nt * 8 + g][j * QB];
#pragma unroll
            for (int s = 0; s < KS; ++s) {
                bq[nt][s][0] = pack_half2(qr[4 * s], qr[4 * s + 1]);
                bq[nt][s][1] = pack_half2(qr[4 * s + 2], qr[4 * s + 3]);
            }
        }
        const __half* kB = bufK + (size_t)kvHead * bufCapacity * HD + j * (HD / 4);
        const __half* vB = bufV + (size_t)kvHead * bufCapacity * HD + g * (HD / 8);
        const int lastVisible = bufRow0 + firstQuery;  // + qi
        for (int u = u0; u < u1; u += WARPS) {
            const int r0 = 16 * u;
            uint32_t kw[2][HD / 8], vw[4][HD / 16];
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int row = r0 + g + 8 * r;
                load_halves<HD / 8>(kB + (size_t)(row < nRows ? row : 0) * HD, kw[r]);
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = r0 + 2 * j + (i & 1) + 8 * (i >> 1);
                load_halves<HD / 16>(vB + (size_t)(row < nRows ? row : 0) * HD, vw[i]);
            }
            float s[1][NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int i = 0; i < 4; ++i) s[0][nt][i] = 0.0f;
#pragma unroll
                for (int ks = 0; ks < KS; ++ks)
                    mma16816(s[0][nt], kw[0][2 * ks], kw[1][2 * ks], kw[0][2 * ks + 1], kw[1][2 * ks + 1],
                             bq[nt][ks][0], bq[nt][ks][1]);
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = r0 + g + 8 * (i >> 1);
                    const int qi = (nt * 8 + 2 * j + (i & 1)) / HPB;
                    if (qi >= nq || row > lastVisible + qi) s[0][nt][i] = -INFINITY;
                }
            }
            rescale(s, 1.0f);
            uint32_t bp[NT][2];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    float p[2];
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        p[e] = qs7::ex2<FTZ>(s[0][nt][2 * r + e] - runMax[nt][e]);
                        runSum[nt][e] += p[e];
                    }
                    bp[nt][r] = movtrans(pack_half2(p[0], p[1]));
                }
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                const uint32_t a0 = __byte_perm(vw[0][mt], vw[1][mt], 0x5410);
                const uint32_t a1 = __byte_perm(vw[0][mt], vw[1][mt], 0x7632);
                const uint32_t a2 = __byte_perm(vw[2][mt], vw[3][mt], 0x5410);
                const uint32_t a3 = __byte_perm(vw[2][mt], vw[3][mt], 0x7632);
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) mma16816(acc[mt][nt], a0, a1, a2, a3, bp[nt][0], bp[nt][1]);
            }
        }
    }

    // ---- merge the 4 warps (the value offsets join the accumulators) and write the partials
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            float sm = runSum[nt][e], b = base[nt][e];
#pragma unroll
            for (int o = 4; o < 32; o <<= 1) {
                sm += __shfl_xor_sync(QS_FULL_MASK, sm, o);
                b += __shfl_xor_sync(QS_FULL_MASK, b, o);
            }
            const int col = nt * 8 + 2 * j + e;
            if (g == 0) {
                smMax[warp][col] = runMax[nt][e];
                smSum[warp][col] = sm;
            }
            if (VDN && !isBuffer) {  // the subnormal codes' units (block-uniform branch)
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    smAcc[warp][col][g * (HD / 8) + 2 * mt] = fmaf(acc[mt][nt][e], 0x1p24f, b);
                    smAcc[warp][col][g * (HD / 8) + 2 * mt + 1] = fmaf(acc[mt][nt][2 + e], 0x1p20f, b);
                }
                continue;
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                smAcc[warp][col][g * (HD / 8) + 2 * mt] = acc[mt][nt][e] + b;
                smAcc[warp][col][g * (HD / 8) + 2 * mt + 1] = acc[mt][nt][2 + e] + b;
            }
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < COLS * HD; idx += THREADS) {
        const int col = idx / HD, d = idx % HD;
        const int qi = col / HPB;
        if (qi >= nq) break;
        float m = QS_ATTN_NO_SCORE;
#pragma unroll
        for (int w = 0; w < WARPS; ++w) m = fmaxf(m, smMax[w][col]);
        float sum = 0.0f, a = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; ++w) {
            const float wt = exp2f(smMax[w][col] - m);
            sum = fmaf(smSum[w][col], wt, sum);
            a = fmaf(smAcc[w][col][d], wt, a);
        }
        const int head = kvHead * GROUP + slice * HPB + col % HPB;
        const size_t slot = ((size_t)qi * nHeads + head) * slots + chunk;
        partialAcc[slot * HD + d] = a;
        if (d == 0) {
            partialMax[slot] = m;
            partialSum[slot] = sum;
        }
    }
}

// Entry points of version 7 (valueGroupSize must equal the head dim; G a multiple of 16 * TM; kLower and vLower
// are not read). Up to 8 / HPB queries per launch (the draft uses 1).
// (a) qs_qattn7_b4_h{HD}_g{G}_p{HPB}_q1_t{TM}_f{PF}_b{MINB}: the argument list of qs_qattn_b4_* / qs_qattn6_b8_*
//     (host lengths, or the pass header when header != nullptr: quantized = header[1], bufRow0 = header[2], split of
//     numChunks - 1 chunks derived here). Host mode: query qi of `queries` is buffer row bufLen - queries + qi, so a
//     single query (queries = 1) sees the buffer rows [0, bufLen). grid (numChunks * G/HPB, nKvHeads), block 128.
// (b) qs_qattn7g_b4_h{HD}_g{G}_p{HPB}_t{TM}_f{PF}_b{MINB}: graph-safe, the argument list of qs_qattn6g_b8_*.
//     header[1] = quantized, header[2] = bufRow0; launch query qi (q + qi * qRowStride) sees buffer rows
//     [0, bufRow0 + firstQuery + qi] (the draft: nq = 1, rows [0, header[2] + firstQuery]). grid
//     ((maxChunks + 1) * G/HPB, nKvHeads); chunk c < maxChunks is the c-th chunk of the host split of header[1]
//     (neutral partial when empty), chunk maxChunks the buffer. Partials [nq * nHeads][maxChunks + 1][HD], merged by
//     qs_attn_combine(..., numChunks = maxChunks + 1, headDim, nullptr, 0) over nq * nHeads rows.
#define QS_QATTN7_DEF(HD, G, HPB, TM, MINB, HNAME, GNAME, MODE, LAZY)                                                                       \
    extern "C" __global__ void __launch_bounds__(qs6::THREADS, MINB) HNAME(\
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,   \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                               \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                               \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,     \
        float* __restrict__ partialMax, float* __restrict__ partialSum, int quantized, int bufLen,            \
        int capacity, int maxGroups, int bufCapacity, int groupSize, int valueGroupSize, int chunkLen,        \
        int numChunks, float scaleLog2, const int* __restrict__ header, int firstQuery, int queries,           \
        int qRowStride) {                                                                                     \
        const int chunk = blockIdx.x / ((G) / (HPB));                                                         \
        int bufRow0;                                                                                          \
        if (header != nullptr) {                                                                              \
            quantized = header[1];                                                                            \
            chunkLen = qs6_chunk_len(quantized, numChunks - 1, groupSize);                                    \
            bufRow0 = header[2];                                                                              \
        } else {                                                                                              \
            bufRow0 = bufLen - queries - firstQuery;                                                          \
        }                                                                                                     \
        const int qs = min(chunk * chunkLen, quantized);                                                      \
        qs_qattn7_body<HD, G, HPB, TM, MODE, LAZY>(q, qRowStride, kUpper, vUpper, kParams, vParams, bufK, bufV,              \
                                           partialAcc, partialMax, partialSum, chunk == numChunks - 1, qs,    \
                                           min(qs + chunkLen, quantized), chunk, numChunks, bufRow0,          \
                                           firstQuery, queries, capacity, maxGroups, bufCapacity, groupSize,  \
                                           scaleLog2);                                                        \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(qs6::THREADS, MINB) GNAME(\
        const float* __restrict__ q, const uint8_t* __restrict__ kUpper, const uint8_t* __restrict__ kLower,   \
        const uint8_t* __restrict__ vUpper, const uint8_t* __restrict__ vLower,                               \
        const qs_kv_param* __restrict__ kParams, const qs_kv_param* __restrict__ vParams,                               \
        const __half* __restrict__ bufK, const __half* __restrict__ bufV, float* __restrict__ partialAcc,     \
        float* __restrict__ partialMax, float* __restrict__ partialSum, const int* __restrict__ header,       \
        int firstQuery, int nq, int qRowStride, int capacity, int maxGroups, int bufCapacity, int groupSize,  \
        int valueGroupSize, int maxChunks, float scaleLog2) {                                                 \
        if ((MODE) & 256) qs6::prefetch_q<HD, G, HPB>(q, qRowStride, nq, 8);                                 \
        const int chunk = blockIdx.x / ((G) / (HPB));                                                         \
        const int quantized = header[1];                                                                      \
        const int chunkLen = qs6_chunk_len(quantized, maxChunks, groupSize);                                  \
        const int qs = min(chunk * chunkLen, quantized);                                                      \
        qs_qattn7_body<HD, G, HPB, TM, MODE, LAZY>(q, qRowStride, kUpper, vUpper, kParams, vParams, bufK, bufV,              \
                                           partialAcc, partialMax, partialSum, chunk == maxChunks, qs,        \
                                           min(qs + chunkLen, quantized), chunk, maxChunks + 1, header[2],    \
                                           firstQuery, nq, capacity, maxGroups, bufCapacity, groupSize,       \
                                           scaleLog2);                                                        \
    }
// The f0 entries (the engine's names; "f0": no register prefetch, the only kind left) run qs7::DEFAULT_MODE with lazy
// rescaling.
#define QS_QATTN7_ENTRIES(HD, G, HPB, TM, MINB)                                                                    \
    QS_QATTN7_DEF(HD, G, HPB, TM, MINB, qs_qattn7_b4_h##HD##_g##G##_p##HPB##_q1_t##TM##_f0_b##MINB,                \
                  qs_qattn7g_b4_h##HD##_g##G##_p##HPB##_t##TM##_f0_b##MINB, qs7::DEFAULT_MODE, true)
// explicit MODE M (the decode variants of the rounds; every M has the bits 1 | 2 | 16) and lazy rescaling Z (0/1):
// qs_qattn7_b4_h{HD}_g{G}_p{HPB}_q1_t{TM}_m{M}z{Z}_b{MINB} / qs_qattn7g_b4_h.._t{TM}_m{M}z{Z}_b{MINB}
#define QS_QATTN7M_ENTRIES(HD, G, HPB, TM, M, Z, MINB)                                                             \
    QS_QATTN7_DEF(HD, G, HPB, TM, MINB, qs_qattn7_b4_h##HD##_g##G##_p##HPB##_q1_t##TM##_m##M##z##Z##_b##MINB,      \
                  qs_qattn7g_b4_h##HD##_g##G##_p##HPB##_t##TM##_m##M##z##Z##_b##MINB, M, Z)

// Defaults (measured: bench-results/h200-2026-11-29-mma-draft*.md and QUANTKV-NOTES rounds 1-8). The decode variants
// the rounds compared are instantiated by mma-harness/mma9_harness.cu.
QS_QATTN7_ENTRIES(128, 1, 1, 2, 4)
QS_QATTN7_ENTRIES(128, 4, 4, 2, 4)
QS_QATTN7_ENTRIES(128, 2, 2, 2, 4)
QS_QATTN7_ENTRIES(64, 1, 1, 2, 4)
QS_QATTN7_ENTRIES(64, 2, 2, 2, 4)
QS_QATTN7_ENTRIES(64, 4, 4, 2, 4)
