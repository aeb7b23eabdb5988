// Decode attention (one query position) over an fp16 KV cache, split across the GPU in the
// flash-decoding way: the context is cut into chunks, one block per (chunk, kv head) computes a
// partial softmax-weighted sum for ALL the query heads of that kv head's group (so each K/V row is
// read from memory once, whatever the GQA group size), and a second kernel merges the partial
// results of the chunks with their log-sum-exp weights.
//
// Layouts:
//   q           fp32 [nKvHeads * GROUP][HEAD_DIM]  (query head h uses kv head h / GROUP, as HF)
//   kCache/vCache fp16 [nKvHeads][maxSeq][HEAD_DIM]
//   partialAcc  fp32 [nHeads][numChunks][HEAD_DIM]  sum over the chunk of p * v (not normalised)
//   partialMax  fp32 [nHeads][numChunks]            max score of the chunk (log2 units)
//   partialSum  fp32 [nHeads][numChunks]            sum over the chunk of p
// where p = 2^(s - max) and s = q.k * scale * log2(e), so exp2 replaces exp.
#pragma once
#include "common.cuh"

// The chunking of a context of seqLen positions into at most maxChunks chunks of a multiple of
// CHUNK_GRANULE positions, at least minChunkLen each. The host (DecodeAttention.split) uses the same
// formula; on the device it lets one captured CUDA graph serve every decode step, the context
// length being read from device memory (position + 1) instead of baked into the launch.
constexpr int QS_ATTN_CHUNK_GRANULE = 64;
__device__ __forceinline__ int qs_attn_chunk_len(int seqLen, int maxChunks, int minChunkLen) {
    const int perChunk = (seqLen + maxChunks - 1) / maxChunks;
    const int rounded = (perChunk + QS_ATTN_CHUNK_GRANULE - 1) / QS_ATTN_CHUNK_GRANULE * QS_ATTN_CHUNK_GRANULE;
    return max(minChunkLen, rounded);
}

// Threads per partial block: 4 warps. With the grid sized to several blocks per SM this keeps
// enough 16-byte loads in flight while the block-level merge below stays cheap.
constexpr int ATTN_THREADS = 128;
constexpr int ATTN_WARPS = ATTN_THREADS / 32;
// Start value of the running max: finite, so 2^(start - s) is 0 instead of NaN from inf - inf.
#define QS_ATTN_NO_SCORE (-1.0e30f)

// HEAD_DIM: elements per head (64 or 128). A lane group of HEAD_DIM/8 lanes holds one position's
//           row, 8 dims (16 bytes of fp16) per lane.
// GROUP:    query heads per kv head (1 = MHA, 4 = Llama-3.1-8B, 8). Every lane keeps GROUP query
//           slices and GROUP accumulators of 8 floats in registers.
// UNROLL:   positions one lane group loads (K and V) before it uses any of them: memory-level
//           parallelism, and one max/rescale per UNROLL positions instead of per position. More
//           costs registers (2 x 4 per position), hence fewer resident blocks.
template <int HEAD_DIM, int GROUP, int UNROLL>
__device__ __forceinline__ void qs_attn_partial_body(
    const float* __restrict__ q, const __half* __restrict__ kCache,
    const __half* __restrict__ vCache, float* __restrict__ partialAcc,
    float* __restrict__ partialMax, float* __restrict__ partialSum, const int* __restrict__ lastPosition,
    int seqLen, int maxSeq, int chunkLen, float scaleLog2) {
    constexpr int LANES = HEAD_DIM / 8;              // lanes per position
    constexpr int GROUPS_PER_WARP = 32 / LANES;      // positions a warp works on side by side
    constexpr int NGROUPS = ATTN_WARPS * GROUPS_PER_WARP;
    constexpr int WARP_SPAN = GROUPS_PER_WARP * UNROLL;  // positions per warp per step
    static_assert(HEAD_DIM % 8 == 0 && 32 % LANES == 0, "HEAD_DIM must be 64 or 128 (or 8..256)");

    __shared__ float smMax[NGROUPS][GROUP];
    __shared__ float smSum[NGROUPS][GROUP];
    __shared__ float smAcc[NGROUPS][GROUP][HEAD_DIM];

    qs_wait_prior_grid();
    const int chunk = blockIdx.x;
    const int kvHead = blockIdx.y;
    int numChunks = gridDim.x;
    if (lastPosition != nullptr) {
        // Graph mode: the grid has maxChunks blocks, chunkLen carries the minimum chunk length, the
        // context ends after the position in device memory; blocks past the last chunk have no work.
        seqLen = *lastPosition + 1;
        chunkLen = qs_attn_chunk_len(seqLen, gridDim.x, chunkLen);
        numChunks = (seqLen + chunkLen - 1) / chunkLen;
        if (chunk >= numChunks) return;
    }
    const int start = chunk * chunkLen;
    const int end = min(start + chunkLen, seqLen);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int sub = lane / LANES;   // which position of the warp's GROUPS_PER_WARP
    const int part = lane % LANES;  // which 8 dims of the row
    const int gid = warp * GROUPS_PER_WARP + sub;

    float qr[GROUP][8];
#pragma unroll
    for (int g = 0; g < GROUP; ++g)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            qr[g][i] = q[(size_t)(kvHead * GROUP + g) * HEAD_DIM + part * 8 + i] * scaleLog2;

    float acc[GROUP][8];
    float runMax[GROUP], runSum[GROUP];
#pragma unroll
    for (int g = 0; g < GROUP; ++g) {
        runMax[g] = QS_ATTN_NO_SCORE;
        runSum[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[g][i] = 0.0f;
    }

    const size_t plane = (size_t)kvHead * maxSeq * HEAD_DIM + part * 8;
    const __half* kBase = kCache + plane;
    const __half* vBase = vCache + plane;

    // The loop bound depends only on the warp, never on the lane group, so the shuffles inside
    // always run with the whole warp present.
    for (int base = start + warp * WARP_SPAN; base < end; base += ATTN_WARPS * WARP_SPAN) {
        const int p0 = base + sub * UNROLL;
        uint4 kr[UNROLL], vr[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int pos = p0 + u < end ? p0 + u : start;  // masked rows re-read a valid one
            kr[u] = qs_load_stream16(kBase + (size_t)pos * HEAD_DIM);
            vr[u] = qs_load_stream16(vBase + (size_t)pos * HEAD_DIM);
        }
        float s[UNROLL][GROUP];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            float kf[8];
            qs_half8_to_float(kr[u], kf);
#pragma unroll
            for (int g = 0; g < GROUP; ++g) {
                float d = 0.0f;
#pragma unroll
                for (int i = 0; i < 8; ++i) d = fmaf(qr[g][i], kf[i], d);
                d = qs_group_sum<LANES>(d);
                s[u][g] = p0 + u < end ? d : -INFINITY;
            }
        }
#pragma unroll
        for (int g = 0; g < GROUP; ++g) {
            float m = runMax[g];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) m = fmaxf(m, s[u][g]);
            const float correction = exp2f(runMax[g] - m);
            runMax[g] = m;
            runSum[g] *= correction;
#pragma unroll
            for (int i = 0; i < 8; ++i) acc[g][i] *= correction;
        }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            float vf[8];
            qs_half8_to_float(vr[u], vf);
#pragma unroll
            for (int g = 0; g < GROUP; ++g) {
                const float p = exp2f(s[u][g] - runMax[g]);
                runSum[g] += p;
#pragma unroll
                for (int i = 0; i < 8; ++i) acc[g][i] = fmaf(p, vf[i], acc[g][i]);
            }
        }
    }

    // Merge the NGROUPS lane groups of the block.
#pragma unroll
    for (int g = 0; g < GROUP; ++g) {
        if (part == 0) {
            smMax[gid][g] = runMax[g];
            smSum[gid][g] = runSum[g];
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) smAcc[gid][g][part * 8 + i] = acc[g][i];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += ATTN_THREADS) {
        const int g = idx / HEAD_DIM;
        const int d = idx % HEAD_DIM;
        float m = QS_ATTN_NO_SCORE;
        for (int j = 0; j < NGROUPS; ++j) m = fmaxf(m, smMax[j][g]);
        float sum = 0.0f, a = 0.0f;
        for (int j = 0; j < NGROUPS; ++j) {
            const float w = exp2f(smMax[j][g] - m);
            sum = fmaf(smSum[j][g], w, sum);
            a = fmaf(smAcc[j][g][d], w, a);
        }
        const size_t slot = (size_t)(kvHead * GROUP + g) * numChunks + chunk;
        partialAcc[slot * HEAD_DIM + d] = a;
        if (d == 0) {
            partialMax[slot] = m;
            partialSum[slot] = sum;
        }
    }
}

// Entry points: qs_attn_partial_h{HEAD_DIM}_g{GROUP}_u{UNROLL}.
// grid: (numChunks = ceil(seqLen / chunkLen), nKvHeads), block: ATTN_THREADS; or, when
// lastPosition is not null, (maxChunks, nKvHeads) with chunkLen the minimum chunk length and the
// context length lastPosition[0] + 1 read on the device (one CUDA graph for every step).
#define QS_ATTN_ENTRY(HD, G, U)                                                                \
    extern "C" __global__ void __launch_bounds__(ATTN_THREADS)                                 \
        qs_attn_partial_h##HD##_g##G##_u##U(                                                   \
        const float* __restrict__ q, const __half* __restrict__ kCache,                        \
        const __half* __restrict__ vCache, float* __restrict__ partialAcc,                     \
        float* __restrict__ partialMax, float* __restrict__ partialSum,                        \
        const int* __restrict__ lastPosition, int seqLen, int maxSeq, int chunkLen,            \
        float scaleLog2) {                                                                     \
        qs_attn_partial_body<HD, G, U>(q, kCache, vCache, partialAcc, partialMax, partialSum,     \
                                    lastPosition, seqLen, maxSeq, chunkLen, scaleLog2);        \
    }

QS_ATTN_ENTRY(64, 1, 4)
QS_ATTN_ENTRY(64, 2, 4)
QS_ATTN_ENTRY(64, 4, 4)
QS_ATTN_ENTRY(64, 8, 4)
QS_ATTN_ENTRY(128, 1, 4)
QS_ATTN_ENTRY(128, 2, 4)
QS_ATTN_ENTRY(128, 4, 4)
QS_ATTN_ENTRY(128, 8, 4)
// Deeper unrolling for the two shapes that carry real models' bytes (Llama-2 MHA, Llama-3 GQA 4).
QS_ATTN_ENTRY(128, 1, 8)
QS_ATTN_ENTRY(128, 4, 8)

// Merges the chunks of each query head: out = sum_c 2^(m_c - M) acc_c / sum_c 2^(m_c - M) sum_c.
//   out fp32 [nHeads][headDim]. grid: nHeads, block: COMBINE_THREADS,
//   dynamic shared memory: numChunks floats (the chunk weights). When lastPosition is not null
//   (graph mode) numChunks is the partial kernel's maxChunks and the real count is derived from
//   lastPosition[0] + 1 and minChunkLen exactly as the partial kernel derives it.
// All threads share the chunk loop (a first version gave each thread one output element and a
// serial loop over the chunks: about 10 us of dependent L2 round trips at 64 chunks).
constexpr int COMBINE_THREADS = 256;

extern "C" __global__ void __launch_bounds__(COMBINE_THREADS)
    qs_attn_combine(const float* __restrict__ partialAcc, const float* __restrict__ partialMax,
                    const float* __restrict__ partialSum, float* __restrict__ out, int numChunks,
                    int headDim, const int* __restrict__ lastPosition, int minChunkLen) {
    qs_wait_prior_grid();
    if (lastPosition != nullptr) {
        const int seqLen = *lastPosition + 1;
        const int chunkLen = qs_attn_chunk_len(seqLen, numChunks, minChunkLen);
        numChunks = (seqLen + chunkLen - 1) / chunkLen;
    }
    extern __shared__ float weights[];                 // [numChunks]
    __shared__ float scratch[32];
    __shared__ float4 slices[COMBINE_THREADS];         // [COMBINE_THREADS / quads][quads] partial sums
    const int head = blockIdx.x;
    const int tid = threadIdx.x;
    const float* maxes = partialMax + (size_t)head * numChunks;
    const float* sums = partialSum + (size_t)head * numChunks;

    // 1. the largest chunk max, over the whole block
    float m = QS_ATTN_NO_SCORE;
    for (int c = tid; c < numChunks; c += COMBINE_THREADS) m = fmaxf(m, maxes[c]);
    m = qs_warp_max(m);
    if ((tid & 31) == 0) scratch[tid >> 5] = m;
    __syncthreads();
    m = scratch[0];
    for (int w = 1; w < COMBINE_THREADS / 32; ++w) m = fmaxf(m, scratch[w]);

    // 2. each chunk's weight and the total of the softmax denominators
    float denom = 0.0f;
    for (int c = tid; c < numChunks; c += COMBINE_THREADS) {
        const float w = exp2f(maxes[c] - m);
        weights[c] = w;
        denom = fmaf(sums[c], w, denom);
    }
    denom = qs_block_sum(denom, scratch);  // its barriers also publish `weights`

    // 3. weighted sum of the chunk outputs: thread = (slice of chunks, 4 consecutive dims)
    const int quads = headDim >> 2;                    // float4 columns per row
    const int sliceCount = COMBINE_THREADS / quads;    // chunks processed side by side
    const int quad = tid % quads;
    const int slice = tid / quads;
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
    if (slice < sliceCount) {
        const float4* rows = reinterpret_cast<const float4*>(partialAcc + (size_t)head * numChunks * headDim);
        for (int c = slice; c < numChunks; c += sliceCount) {
            const float4 v = rows[(size_t)c * quads + quad];
            const float w = weights[c];
            a.x = fmaf(v.x, w, a.x);
            a.y = fmaf(v.y, w, a.y);
            a.z = fmaf(v.z, w, a.z);
            a.w = fmaf(v.w, w, a.w);
        }
    }
    slices[tid] = a;
    __syncthreads();
    if (tid < quads) {
        float4 total = slices[tid];
        for (int s = 1; s < sliceCount; ++s) {
            const float4 v = slices[s * quads + tid];
            total.x += v.x;
            total.y += v.y;
            total.z += v.z;
            total.w += v.w;
        }
        const float inv = 1.0f / denom;
        float4* o = reinterpret_cast<float4*>(out + (size_t)head * headDim);
        o[tid] = make_float4(total.x * inv, total.y * inv, total.z * inv, total.w * inv);
    }
}
