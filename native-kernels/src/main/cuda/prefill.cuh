// The glue kernels of chunked prefill: a chunk of P prompt positions goes through each layer as
// matrices, so the projections and the two attention products run as cuBLAS GEMMs on tensor cores
// (bf16 or fp16 in, fp32 accumulate). These kernels prepare the GEMM inputs (16-bit, in the layouts
// cuBLAS reads) and finish their outputs. The residual stream stays fp32; only GEMM inputs are
// rounded to 16 bits.
//
// Layouts of one chunk of P positions starting at cache position `start`:
//   x       fp32 [P][dim]                    residual stream
//   xn      bf16 [P][dim]                    RMSNorm output (the QKV and gate/up GEMM input)
//   qkv     fp32 [P][qDim + 2 kvDim]         the QKV GEMM output: q, then k, then v per position
//   q16     fp16 [nHeads][P][headDim]        rotated queries, head-major so that the query heads of
//                                            one kv head form one [GROUP * P][headDim] matrix
//   scores  fp32 [nHeads][P][ld]             q.k / sqrt(headDim) for cache positions [0, start + P)
//   probs   fp16 [nHeads][P][ld]             causal softmax of scores (0 past the query's position)
//   heads   fp32 [nHeads][P][headDim]        probs . V
//   att     bf16 [P][nHeads * headDim]       heads back in the row layout (the output GEMM input)
#pragma once
#include "common.cuh"

// out[p][d] = table[tokens[p]][d] as fp32. tokens int[P] (checked on the host), out fp32 [P][dim].
// grid: (ceil(dim / blockDim), P), block: any.
extern "C" __global__ void qs_prefill_embedding_bf16(const __nv_bfloat16* __restrict__ table,
                                                     const int* __restrict__ tokens,
                                                     float* __restrict__ out, int dim, int vocab) {
    qs_wait_prior_grid();
    const int p = blockIdx.y;
    const int t = tokens[p];
    const int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= dim) return;
    out[(size_t)p * dim + d] =
        t >= 0 && t < vocab ? __bfloat162float(table[(size_t)t * dim + d]) : __int_as_float(0x7fc00000);
}

// RMSNorm of each row, as qs_rmsnorm (same fp32 arithmetic), written as bf16 for a GEMM.
//   x fp32 [rows][dim], weight bf16 [dim], out bf16 [rows][dim]. grid: rows, block: multiple of 32.
extern "C" __global__ void qs_rmsnorm_bf16_out(const float* __restrict__ x,
                                               const __nv_bfloat16* __restrict__ weight,
                                               __nv_bfloat16* __restrict__ out, int dim, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + (size_t)blockIdx.x * dim;
    __nv_bfloat16* outr = out + (size_t)blockIdx.x * dim;
    float sumSq = 0.0f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) sumSq = fmaf(xr[d], xr[d], sumSq);
    const float total = qs_block_sum(sumSq, scratch);
    const float inv = rsqrtf(total / (float)dim + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        outr[d] = __float2bfloat16(xr[d] * inv * __bfloat162float(weight[d]));
    }
}

// RoPE for every position of the chunk (position start + p, the same fp32 angle and sincosf as
// qs_rope), then: queries to q16 (fp16, head-major), keys and values to the fp16 caches at
// start + p (the same rounding as qs_kv_append_f16, so decode steps after a chunked prefill read
// exactly what they would have written themselves).
//   qkv fp32 [P][qDim + 2 kvDim], invFreq fp32 [headDim/2], q16 fp16 [nHeads][P][headDim],
//   kCache, vCache fp16 [nKvHeads][maxSeq][headDim] (the host checks start + P <= maxSeq).
// grid: (P, nHeads + nKvHeads), block: headDim/2 rounded up to 32.
extern "C" __global__ void qs_prefill_rope_append(const float* __restrict__ qkv,
                                                  const float* __restrict__ invFreq,
                                                  __half* __restrict__ q16, __half* __restrict__ kCache,
                                                  __half* __restrict__ vCache, int start, int rows,
                                                  int nHeads, int nKvHeads, int headDim, int maxSeq) {
    const int p = blockIdx.x;
    const int head = blockIdx.y;
    const int half = headDim >> 1;
    const int i = threadIdx.x;
    if (i >= half) return;
    const int qDim = nHeads * headDim, kvDim = nKvHeads * headDim;
    const float* row = qkv + (size_t)p * (qDim + 2 * kvDim);
    const int pos = start + p;
    const float angle = __fmul_rn((float)pos, invFreq[i]);
    float s, c;
    sincosf(angle, &s, &c);
    if (head < nHeads) {
        const float* v = row + head * headDim;
        const float x1 = v[i], x2 = v[i + half];
        __half* dst = q16 + ((size_t)head * rows + p) * headDim;
        dst[i] = __float2half_rn(x1 * c - x2 * s);
        dst[i + half] = __float2half_rn(x2 * c + x1 * s);
    } else {
        const int kvHead = head - nHeads;
        const float* k = row + qDim + kvHead * headDim;
        const float* v = row + qDim + kvDim + kvHead * headDim;
        const float x1 = k[i], x2 = k[i + half];
        const size_t dst = ((size_t)kvHead * maxSeq + pos) * headDim;
        kCache[dst + i] = __float2half_rn(x1 * c - x2 * s);
        kCache[dst + i + half] = __float2half_rn(x2 * c + x1 * s);
        vCache[dst + i] = __float2half_rn(v[i]);
        vCache[dst + i + half] = __float2half_rn(v[i + half]);
    }
}

// Causal softmax of each score row: row r belongs to query p = r % P at cache position start + p,
// which sees cache positions [0, start + p]; the rest of the row (and the padding up to ld) gets
// probability 0, so the PV GEMM can multiply whole rows.
//   scores fp32 [rows][ld] (already scaled by 1/sqrt(headDim)), probs fp16 [rows][ld].
// grid: rows (= nHeads * P), block: multiple of 32.
// The rows are the largest traffic of long prefills (a 32K prompt reads and writes ~10^12 score
// elements), so the max and the sum come from one pass (online: the sum is rescaled whenever the
// max grows), and the second pass writes the probabilities: two reads of each score instead of three.
__device__ __forceinline__ void qs_softmax_merge(float& m, float& sum, float om, float osum) {
    const float nm = fmaxf(m, om);
    if (nm == -INFINITY) return;  // both empty
    sum = sum * __expf(m - nm) + osum * __expf(om - nm);
    m = nm;
}

extern "C" __global__ void qs_prefill_causal_softmax(const float* __restrict__ scores,
                                                     __half* __restrict__ probs, int rows, int start,
                                                     int ld) {
    __shared__ float smMax[32], smSum[32];
    const int r = blockIdx.x;
    const int visible = start + r % rows + 1;
    const float* s = scores + (size_t)blockIdx.x * ld;
    __half* out = probs + (size_t)blockIdx.x * ld;
    float m = -INFINITY, sum = 0.0f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) {
        const float v = s[j];
        if (v > m) {
            sum = sum * __expf(m - v) + 1.0f;  // m = -inf the first time: 0 * 0 + 1
            m = v;
        } else {
            sum += __expf(v - m);
        }
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float om = __shfl_xor_sync(QS_FULL_MASK, m, offset);
        const float os = __shfl_xor_sync(QS_FULL_MASK, sum, offset);
        qs_softmax_merge(m, sum, om, os);
    }
    if ((threadIdx.x & 31) == 0) {
        smMax[threadIdx.x >> 5] = m;
        smSum[threadIdx.x >> 5] = sum;
    }
    __syncthreads();
    m = smMax[0];
    sum = smSum[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); ++w) qs_softmax_merge(m, sum, smMax[w], smSum[w]);
    const float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < ld; j += blockDim.x) {
        out[j] = __float2half_rn(j < visible ? __expf(s[j] - m) * inv : 0.0f);
    }
}

// heads fp32 [nHeads][P][headDim] -> att bf16 [P][nHeads * headDim].
// grid: (P, nHeads), block: headDim rounded up to 32.
extern "C" __global__ void qs_prefill_gather_heads(const float* __restrict__ heads,
                                                   __nv_bfloat16* __restrict__ att, int rows,
                                                   int nHeads, int headDim) {
    const int p = blockIdx.x, h = blockIdx.y, d = threadIdx.x;
    if (d >= headDim) return;
    att[((size_t)p * nHeads + h) * headDim + d] =
        __float2bfloat16(heads[((size_t)h * rows + p) * headDim + d]);
}

// SwiGLU of the gate/up GEMM output, as bf16 for the down GEMM:
//   gateUp fp32 [P][2 ffn] (gate in columns [0, ffn), up in [ffn, 2 ffn)), out bf16 [P][ffn].
// grid-stride over P * ffn.
extern "C" __global__ void qs_prefill_swiglu_bf16(const float* __restrict__ gateUp,
                                                  __nv_bfloat16* __restrict__ out, int rows, int ffn) {
    const long long n = (long long)rows * ffn;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
         idx += (long long)gridDim.x * blockDim.x) {
        const long long p = idx / ffn, j = idx % ffn;
        const float g = gateUp[p * 2 * ffn + j];
        const float u = gateUp[p * 2 * ffn + ffn + j];
        out[idx] = __float2bfloat16(g / (1.0f + expf(-g)) * u);
    }
}
