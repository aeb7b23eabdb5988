// Sampling the next token on the device (issue 4): temperature, softmax, top-k, top-p and the draw
// in one launch of one block, so a sampled step brings back 4 bytes instead of the vocab's logits.
// The same distribution as the CPU's TokenDistribution/TokenPicker, up to float rounding:
//
//  1. e_i = expf(logit_i * invT - max), the product rounded before the subtraction as in Java
//     (no FMA contraction), max over the rounded products; NaN logits get no mass.
//  2. top-k / top-p as a threshold on the key bits(e_i) (non-negative floats order like their bit
//     patterns): radix select from the top, 4 passes of 8-bit digits, each a histogram of count and
//     mass (fixed point, e * 2^40 rounded, u64: sums are exact, so the choice is deterministic) of the
//     ids whose higher digits equal the prefix found so far. Walking the bins from the top, the
//     threshold digit is the first bin where the count reaches K or the mass reaches topP * S
//     (S = the pass-0 total) — the CPU's "smallest prefix in descending order whose mass reaches
//     topP, crossing token kept, at most K tokens". After 4 passes the threshold T is exact; ids with
//     key > T are kept, and of the ids with key == T the lowest ids first, as many as K and topP need.
//  3. the draw: a cumulative sum in index order over the kept e_i (double), the first id where it
//     passes u * keptMass (CPU: u < cdf). Each warp owns a contiguous chunk of ids; a block scan of
//     the chunks' kept masses picks the chunk, and its warp scans it 32 ids at a time.
//
// Greedy decoding keeps qs_argmax. Nothing here reads device-side state of a step, so this is
// launched outside the step graph with u as a plain argument.
//   logits fp32 [vocab], vocab <= 262144 (checked on the host), topK 0 = off, topP 1 = off,
//   u in [0, 1); out int[1]: the id, -1 when the logits have no finite maximum.
//   grid 1, block SAMPLE_THREADS.
#pragma once

#include "common.cuh"

#define SAMPLE_THREADS 1024
#define SAMPLE_WARPS (SAMPLE_THREADS / 32)
#define SAMPLE_COPIES 4                          // histogram copies (warp % 4) against atomic contention
#define SAMPLE_FIXED_SCALE 1099511627776.0f      // 2^40: a mass of at most 2^18 ids x 1 fits u64

typedef unsigned long long qs_u64;

// The unnormalised probability of one logit; every pass recomputes it with this same code.
__device__ __forceinline__ float qs_sample_weight(float logit, float invT, float maxScaled) {
    const float e = expf(__fsub_rn(__fmul_rn(logit, invT), maxScaled));
    return e >= 0.0f ? e : 0.0f;  // NaN -> 0
}

__device__ __forceinline__ qs_u64 qs_sample_fixed(float e) {
    return __float2ull_rn(e * SAMPLE_FIXED_SCALE);  // exact scaling by a power of two, then rounded
}

template <typename T>
__device__ __forceinline__ T qs_sample_warp_inclusive_scan(T v, int lane) {
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
        const T other = __shfl_up_sync(QS_FULL_MASK, v, offset);
        if (lane >= offset) v += other;
    }
    return v;
}

__device__ __forceinline__ double qs_sample_warp_sum(double v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(QS_FULL_MASK, v, offset);
    return v;
}

// One row's work for one block (qs_sample, qs_sample_rows). out (when non-null): the id drawn with u, -1 when
// the logits have no finite maximum. probs (when non-null): the kept distribution, e_i / kept mass for the kept ids
// and 0 elsewhere (TokenDistribution.probabilities up to float rounding); not written without a finite maximum.
__device__ __forceinline__ void qs_sample_block(const float* __restrict__ logits, int vocab, float invT, int topK,
                                                float topP, double u, int* __restrict__ out,
                                                float* __restrict__ probs) {
    __shared__ unsigned int hCount[SAMPLE_COPIES][256];
    __shared__ qs_u64 hMass[SAMPLE_COPIES][256];
    __shared__ qs_u64 stage[SAMPLE_WARPS][32];  // one warp's fixed-point masses, summed by bin leaders
    __shared__ float warpMax[SAMPLE_WARPS];
    __shared__ double chunkAbove[SAMPLE_WARPS];
    __shared__ unsigned int chunkTies[SAMPLE_WARPS];
    __shared__ unsigned int chunkTieBase[SAMPLE_WARPS];
    __shared__ double sKeptMass;
    __shared__ float sMax;
    __shared__ unsigned int sPrefix, sCountAbove, sBinCount, sThreshold, sTieBase;
    __shared__ qs_u64 sMassAbove;
    __shared__ int sTieKeep, sWarp;
    __shared__ double sBase, sTarget;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // ---- 1. the maximum of the scaled logits (NaNs ignored by fmaxf)
    float m = -INFINITY;
    for (int i = tid; i < vocab; i += SAMPLE_THREADS) m = fmaxf(m, __fmul_rn(logits[i], invT));
    m = qs_warp_max(m);
    if (lane == 0) warpMax[warp] = m;
    __syncthreads();
    if (warp == 0) {
        const float v = qs_warp_max(warpMax[lane]);
        if (lane == 0) sMax = v;
    }
    __syncthreads();
    const float maxScaled = sMax;
    if (!(maxScaled > -INFINITY && maxScaled < INFINITY)) {  // block-uniform
        if (tid == 0 && out != nullptr) *out = -1;
        return;
    }

    // ---- 2. the threshold of top-k / top-p by radix select over the keys
    const bool cutK = topK > 0 && topK < vocab;
    const bool cutP = topP < 1.0f;
    if (tid == 0) {  // no cut: every id with mass is kept
        sThreshold = 0u;
        sTieKeep = 0;
    }
    if (cutK || cutP) {
        const unsigned int K = (unsigned int)(cutK ? topK : vocab);
        double target = INFINITY;  // fixed-point mass the kept prefix must reach (warp 0's registers)
        unsigned int prefix = 0u, countAbove = 0u;
        qs_u64 massAbove = 0ull;
        for (int pass = 0; pass < 4; ++pass) {
            const int shift = 24 - 8 * pass;
            const unsigned int hiMask = pass == 0 ? 0u : 0xffffffffu << (shift + 8);
            for (int b = tid; b < SAMPLE_COPIES * 256; b += SAMPLE_THREADS) {
                (&hCount[0][0])[b] = 0u;
                (&hMass[0][0])[b] = 0ull;
            }
            __syncthreads();
            unsigned int* cnt = hCount[warp % SAMPLE_COPIES];
            qs_u64* mass = hMass[warp % SAMPLE_COPIES];
            for (int base = warp * 32; base < vocab; base += SAMPLE_THREADS) {  // warp-uniform trip count
                const int i = base + lane;
                const float e = i < vocab ? qs_sample_weight(logits[i], invT, maxScaled) : 0.0f;
                const unsigned int key = __float_as_uint(e);
                const bool in = i < vocab && (key & hiMask) == prefix;
                const unsigned int inMask = __ballot_sync(QS_FULL_MASK, in);
                if (in) {
                    // lanes of one bin add once: the lowest lane sums its peers' masses
                    const unsigned int bin = (key >> shift) & 255u;
                    const unsigned int peers = __match_any_sync(inMask, bin);
                    stage[warp][lane] = qs_sample_fixed(e);
                    __syncwarp(inMask);
                    if (lane == __ffs(peers) - 1) {
                        qs_u64 s = 0ull;
                        for (unsigned int p = peers; p != 0u; p &= p - 1u) s += stage[warp][__ffs(p) - 1];
                        atomicAdd(&cnt[bin], (unsigned int)__popc(peers));
                        atomicAdd(&mass[bin], s);
                    }
                }
                __syncwarp();  // stage is rewritten by the next step
            }
            __syncthreads();
            if (warp == 0) {
                // lane l owns bins 255 - 8l down to 248 - 8l, so lane order is descending key order
                unsigned int c[8];
                qs_u64 ms[8];
                unsigned int gc = 0u;
                qs_u64 gm = 0ull;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const int b = 255 - 8 * lane - j;
                    c[j] = 0u;
                    ms[j] = 0ull;
#pragma unroll
                    for (int k = 0; k < SAMPLE_COPIES; ++k) {
                        c[j] += hCount[k][b];
                        ms[j] += hMass[k][b];
                    }
                    gc += c[j];
                    gm += ms[j];
                }
                if (pass == 0 && cutP) {  // every id takes part in pass 0: the total is S
                    qs_u64 total = gm;
#pragma unroll
                    for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(QS_FULL_MASK, total, offset);
                    target = (double)topP * (double)total;
                }
                const unsigned int inclC = qs_sample_warp_inclusive_scan(gc, lane);
                const qs_u64 inclM = qs_sample_warp_inclusive_scan(gm, lane);
                const bool crosses = gc > 0u && (countAbove + inclC >= K || (double)(massAbove + inclM) >= target);
                const unsigned int crossing = __ballot_sync(QS_FULL_MASK, crosses);
                // fallback (the mass never reaches the target, as when rounding left topP * S above
                // the total): keep everything down to the lowest non-empty bin
                const bool fallback = crossing == 0u;
                const int sel = fallback ? 31 - __clz(__ballot_sync(QS_FULL_MASK, gc > 0u)) : __ffs(crossing) - 1;
                if (lane == sel) {
                    unsigned int rc = countAbove + inclC - gc;
                    qs_u64 rm = massAbove + inclM - gm;
                    int chosen = -1;
                    unsigned int chosenC = 0u, lastC = 0u, lastRc = rc;
                    qs_u64 lastRm = rm;
                    int last = -1;
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        if (chosen < 0 && c[j] != 0u) {
                            if (!fallback && (rc + c[j] >= K || (double)(rm + ms[j]) >= target)) {
                                chosen = j;
                                chosenC = c[j];
                            } else {
                                last = j;
                                lastC = c[j];
                                lastRc = rc;
                                lastRm = rm;
                                rc += c[j];
                                rm += ms[j];
                            }
                        }
                    }
                    if (chosen < 0) {  // fallback: the lowest non-empty bin, with what lies above it
                        chosen = last;
                        chosenC = lastC;
                        rc = lastRc;
                        rm = lastRm;
                    }
                    sPrefix = prefix | ((unsigned int)(255 - 8 * lane - chosen) << shift);
                    sCountAbove = rc;
                    sMassAbove = rm;
                    sBinCount = chosenC;
                }
                __syncwarp();
                countAbove = sCountAbove;
                massAbove = sMassAbove;
            }
            __syncthreads();
            prefix = sPrefix;
        }
        if (tid == 0) {
            // prefix is the threshold key T; countAbove / massAbove cover the keys above it, and
            // sBinCount ids share it. Keep the lowest of those ids, as many as K and topP need.
            unsigned int keep = min(sBinCount, K - countAbove);
            if (cutP) {
                const double eT = (double)qs_sample_fixed(__uint_as_float(prefix));
                if (eT > 0.0) {
                    double need = ceil((target - (double)massAbove) / eT);
                    if (need < 1.0) need = 1.0;
                    if (need < (double)keep) keep = (unsigned int)need;
                }
            }
            sThreshold = prefix;
            sTieKeep = (int)keep;
        }
    }
    __syncthreads();
    const unsigned int thr = sThreshold;
    const unsigned int tieKeep = (unsigned int)sTieKeep;
    const bool ties = thr != 0u;  // ties at a zero threshold have no mass: never drawn

    // ---- 3. the draw: kept masses in index order, chunk by chunk
    const int chunk = ((vocab + SAMPLE_WARPS - 1) / SAMPLE_WARPS + 31) & ~31;
    const int begin = min(warp * chunk, vocab), end = min(begin + chunk, vocab);
    double above = 0.0;
    unsigned int tieCount = 0u;
    for (int base = begin; base < end; base += 32) {
        const int i = base + lane;
        const float e = i < end ? qs_sample_weight(logits[i], invT, maxScaled) : 0.0f;
        const unsigned int key = __float_as_uint(e);
        if (key > thr) above += (double)e;
        tieCount += __popc(__ballot_sync(QS_FULL_MASK, i < end && ties && key == thr));
    }
    above = qs_sample_warp_sum(above);
    if (lane == 0) {
        chunkAbove[warp] = above;
        chunkTies[warp] = tieCount;
    }
    __syncthreads();
    if (warp == 0) {
        const unsigned int t = chunkTies[lane];
        const unsigned int tieBase = qs_sample_warp_inclusive_scan(t, lane) - t;  // ties in earlier chunks
        const unsigned int keptTies = tieBase >= tieKeep ? 0u : min(t, tieKeep - tieBase);
        const double mass = chunkAbove[lane] + (double)keptTies * (double)__uint_as_float(thr);
        const double incl = qs_sample_warp_inclusive_scan(mass, lane);
        double excl = __shfl_up_sync(QS_FULL_MASK, incl, 1);
        if (lane == 0) excl = 0.0;
        chunkTieBase[lane] = tieBase;
        if (lane == 31) sKeptMass = incl;
        const double target = u * __shfl_sync(QS_FULL_MASK, incl, 31);
        // the last chunk with mass that starts at or below the target (the last with mass when
        // rounding left the target above the total)
        const unsigned int cand = __ballot_sync(QS_FULL_MASK, mass > 0.0 && excl <= target);
        const int sel = cand == 0u ? -1 : 31 - __clz(cand);
        if (lane == 0) sWarp = sel;
        if (lane == sel) {
            sBase = excl;
            sTieBase = tieBase;
            sTarget = target;
        }
    }
    __syncthreads();
    if (probs != nullptr) {  // the distribution: each warp walks its chunk, tie ranks continuing from earlier chunks
        const double kept = sKeptMass;
        unsigned int tieRank = chunkTieBase[warp];
        for (int base = begin; base < end; base += 32) {
            const int i = base + lane;
            const float e = i < end ? qs_sample_weight(logits[i], invT, maxScaled) : 0.0f;
            const unsigned int key = __float_as_uint(e);
            const bool isTie = i < end && ties && key == thr;
            const unsigned int tieBits = __ballot_sync(QS_FULL_MASK, isTie);
            const unsigned int myRank = tieRank + __popc(tieBits & ((1u << lane) - 1u));
            const bool keep = key > thr || (isTie && myRank < tieKeep);
            if (i < end) probs[i] = keep ? (float)((double)e / kept) : 0.0f;
            tieRank += __popc(tieBits);
        }
    }
    if (out == nullptr) return;
    const int chosenWarp = sWarp;
    if (chosenWarp < 0) {
        if (tid == 0) *out = -1;
        return;
    }
    if (warp == chosenWarp) {
        const double target = sTarget;
        double carry = sBase;
        unsigned int tieRank = sTieBase;
        int lastKept = -1;
        bool found = false;
        for (int base = begin; base < end; base += 32) {
            const int i = base + lane;
            const float e = i < end ? qs_sample_weight(logits[i], invT, maxScaled) : 0.0f;
            const unsigned int key = __float_as_uint(e);
            const bool isTie = i < end && ties && key == thr;
            const unsigned int tieBits = __ballot_sync(QS_FULL_MASK, isTie);
            const unsigned int myRank = tieRank + __popc(tieBits & ((1u << lane) - 1u));
            const bool kept = key > thr || (isTie && myRank < tieKeep);
            const double incl = qs_sample_warp_inclusive_scan(kept ? (double)e : 0.0, lane);
            const unsigned int hits = __ballot_sync(QS_FULL_MASK, kept && target < carry + incl);
            if (hits != 0u) {
                if (lane == __ffs(hits) - 1) *out = i;
                found = true;
                break;
            }
            const unsigned int keptBits = __ballot_sync(QS_FULL_MASK, kept);
            if (keptBits != 0u) lastKept = base + 31 - __clz(keptBits);
            carry += __shfl_sync(QS_FULL_MASK, incl, 31);
            tieRank += __popc(tieBits);
        }
        if (!found && lane == 0) *out = lastKept;  // rounding left the target past the chunk's last kept id
    }
}

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
    qs_sample(const float* __restrict__ logits, int vocab, float invT, int topK, float topP, double u,
              int* __restrict__ out) {
    qs_sample_block(logits, vocab, invT, topK, topP, u, out, nullptr);
}

// ------------------------------------------------------------------------------------------------
// Speculative sampling inside a graph (CudaQuantSpecModel.sampledRound, DeviceSpeculativeSampling): the draft
// and target distributions stay on the device, the uniforms come from a device buffer the host fills before the
// launch, and only the round's outcome comes back.
// ------------------------------------------------------------------------------------------------

// One row per block: probs[r] := the distribution of logits row r (qs_sample_block); with uniforms, tokens[r] :=
// the id drawn with uniforms[r]. A row without a finite maximum draws token 0 and sets status[0] = 1: the host
// fails the round (token 0 only keeps the next pass's embedding read in bounds).
// grid rows, block SAMPLE_THREADS.
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
    qs_sample_rows(const float* __restrict__ logits, int vocab, float invT, int topK, float topP,
                   const double* __restrict__ uniforms, int* __restrict__ tokens, float* __restrict__ probs,
                   int* __restrict__ status) {
    __shared__ int drawn;
    const int r = blockIdx.x;
    const bool draw = uniforms != nullptr;
    qs_sample_block(logits + (size_t)r * vocab, vocab, invT, topK, topP, draw ? uniforms[r] : 0.0,
                    draw ? &drawn : nullptr, probs + (size_t)r * vocab);
    __syncthreads();
    if (draw && threadIdx.x == 0) {
        const int id = drawn;
        if (id < 0) *status = 1;
        tokens[r] = id < 0 ? 0 : id;
    }
}

// An id drawn in index order from the weights w(i) >= 0, i < n: the first whose cumulative weight passes u * total
// (TokenDistribution.sample's rule on unnormalised weights), the last id with weight when rounding leaves the target
// above the total, -1 when the total is 0. Block-wide (SAMPLE_THREADS threads); every thread gets the id.
template <typename Weight>
__device__ __forceinline__ int qs_block_draw(Weight weight, int n, double u) {
    __shared__ double cMass[SAMPLE_WARPS];
    __shared__ int sSel, sResult;
    __shared__ double sBase, sTarget;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int chunk = ((n + SAMPLE_WARPS - 1) / SAMPLE_WARPS + 31) & ~31;
    const int begin = min(warp * chunk, n), end = min(begin + chunk, n);
    double s = 0.0;
    for (int i = begin + lane; i < end; i += 32) s += (double)weight(i);
    s = qs_sample_warp_sum(s);
    if (lane == 0) cMass[warp] = s;
    __syncthreads();
    if (warp == 0) {
        const double mass = cMass[lane];
        const double incl = qs_sample_warp_inclusive_scan(mass, lane);
        double excl = __shfl_up_sync(QS_FULL_MASK, incl, 1);
        if (lane == 0) excl = 0.0;
        const double target = u * __shfl_sync(QS_FULL_MASK, incl, 31);
        const unsigned int cand = __ballot_sync(QS_FULL_MASK, mass > 0.0 && excl <= target);
        const int sel = cand == 0u ? -1 : 31 - __clz(cand);
        if (lane == 0) {
            sSel = sel;
            sResult = -1;
        }
        if (lane == sel) {
            sBase = excl;
            sTarget = target;
        }
    }
    __syncthreads();
    if (warp == sSel) {
        const double target = sTarget;
        double carry = sBase;
        int lastKept = -1;
        bool found = false;
        for (int base = begin; base < end; base += 32) {
            const int i = base + lane;
            const float w = i < end ? weight(i) : 0.0f;
            const double incl = qs_sample_warp_inclusive_scan((double)w, lane);
            const unsigned int hits = __ballot_sync(QS_FULL_MASK, w > 0.0f && target < carry + incl);
            if (hits != 0u) {
                if (lane == __ffs(hits) - 1) sResult = i;
                found = true;
                break;
            }
            const unsigned int kept = __ballot_sync(QS_FULL_MASK, w > 0.0f);
            if (kept != 0u) lastKept = base + 31 - __clz(kept);
            carry += __shfl_sync(QS_FULL_MASK, incl, 31);
        }
        if (!found && lane == 0) sResult = lastKept;
    }
    __syncthreads();
    const int result = sResult;
    __syncthreads();  // the shared state is reused by the next call
    return result;
}

// The acceptance rule of dev.quantspec.generate.SpeculativeSampling on the device. drafts int[g]: the drafted
// tokens; q fp32 [g][vocab]: the draft distributions that drew them; p fp32 [g + 1][vocab]: the target's at the same
// positions (row i scores drafts[i], row g gives the bonus); uniforms [g + 1]: the accept tests, then the final draw.
// Accept drafts[i] while u_i * q_i(x) < p_i(x) (q_i(x) > 0); at the first rejection draw from normalize(max(0, p_i - q_i))
// (from p_i when that has no mass), after g acceptances from p_g. outcome int[2] := accepted, the round's last token.
// grid 1, block SAMPLE_THREADS.
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
    qs_speculative_verify(const int* __restrict__ drafts, const float* __restrict__ q, const float* __restrict__ p,
                          int g, int vocab, const double* __restrict__ uniforms, int* __restrict__ outcome) {
    int accepted = 0;
    while (accepted < g) {  // block-uniform: every thread reads the same values
        const int x = drafts[accepted];
        const float px = p[(size_t)accepted * vocab + x];
        const float qx = q[(size_t)accepted * vocab + x];
        if (!(qx > 0.0f && uniforms[accepted] * (double)qx < (double)px)) break;
        ++accepted;
    }
    const double u = uniforms[g];
    const float* pRow = p + (size_t)accepted * vocab;
    int last;
    if (accepted < g) {
        const float* qRow = q + (size_t)accepted * vocab;
        last = qs_block_draw([&](int j) { const float d = pRow[j] - qRow[j]; return d > 0.0f ? d : 0.0f; }, vocab, u);
        if (last < 0) last = qs_block_draw([&](int j) { return pRow[j]; }, vocab, u);  // p == q: no residual mass
    } else {
        last = qs_block_draw([&](int j) { return pRow[j]; }, vocab, u);
    }
    if (threadIdx.x == 0) {
        outcome[0] = accepted;
        outcome[1] = last < 0 ? 0 : last;
    }
}
