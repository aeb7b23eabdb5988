// Row kernels of a QuantSpec pass (a draft step: 1 row; a verify pass: n = 1..gamma+1 rows), for the
// decoder's captured CUDA graphs: every per-pass value is read from the device "pass header"
//   header int[4 + n]: [0] pos0 (position of row 0), [1] quantized positions, [2] bufRow0 (buffer row
//   of row 0 = pos0 - quantized), [4 + i] the token of row i
// (see quantkv.cuh), never from a host int baked into the launch. Each kernel does for row i exactly
// what the one-token kernel of elementwise.cuh does (the same __device__ function), so a 1-row pass
// gives the bits of a decode step. The embedding reuses qs_prefill_embedding_bf16 (tokens at header + 4).
#pragma once
#include "common.cuh"
#include "elementwise.cuh"

// RoPE of n rows of a fused QKV activation: row i (position header[0] + i) holds q [nHeads][headDim] at
// float offset i * rowStride and k [nKvHeads][headDim] at i * rowStride + nHeads * headDim; both are
// rotated in place by qs_rope_rotate (the same code as qs_rope). invFreq fp32 [headDim/2].
// grid: (n, nHeads + nKvHeads), block: headDim/2 rounded up to 32.
extern "C" __global__ void qs_rope_rows(float* __restrict__ qkv, int rowStride,
                                        const float* __restrict__ invFreq,
                                        const int* __restrict__ header, int nHeads, int headDim) {
    qs_wait_prior_grid();
    const int row = blockIdx.x;
    const int head = blockIdx.y;  // query heads first, then kv heads (k follows q in the row)
    const int half = headDim >> 1;
    const int i = threadIdx.x;
    if (i >= half) return;
    float* v = qkv + (size_t)row * rowStride + (size_t)head * headDim;
    qs_rope_rotate(v, invFreq, header[0] + row, i, half);
}

// Appends the K and V of n rows to the fp16 buffer: row i's k [nKvHeads][headDim] at float offset
// i * rowStride + kOffset and v at i * rowStride + vOffset go to buffer row header[2] + i of every kv
// head (bufK, bufV fp16 [nKvHeads][bufCapacity][headDim]), rounded to nearest as qs_kv_append_f16.
// Rows outside [0, bufCapacity) are skipped (the host checks; this only guards memory).
// grid: (n, nKvHeads), block: headDim rounded up to 32.
extern "C" __global__ void qs_buffer_append_rows(const float* __restrict__ qkv, int rowStride, int kOffset,
                                                 int vOffset, __half* __restrict__ bufK,
                                                 __half* __restrict__ bufV, const int* __restrict__ header,
                                                 int headDim, int bufCapacity) {
    qs_wait_prior_grid();
    const int row = blockIdx.x;
    const int h = blockIdx.y;
    const int d = threadIdx.x;
    const int at = header[2] + row;
    if (d >= headDim || at < 0 || at >= bufCapacity) return;
    const float* src = qkv + (size_t)row * rowStride + (size_t)h * headDim + d;
    const size_t dst = ((size_t)h * bufCapacity + at) * headDim + d;
    bufK[dst] = __float2half_rn(src[kOffset]);
    bufV[dst] = __float2half_rn(src[vOffset]);
}

// qs_rope_rows then qs_buffer_append_rows in one launch (the same arithmetic, so the same bits): block
// (row, head) rotates q head `head` or, for head >= nHeads, k head h = head - nHeads in place, and then
// thread i writes the fp16 of the rotated k[i], k[i + half] (its own writes) and of v[i], v[i + half]
// (v of kv head h at float offset vOffset + h * headDim of the row) to buffer row header[2] + row.
// grid: (n, nHeads + nKvHeads), block: headDim/2 rounded up to 32.
extern "C" __global__ void qs_rope_append_rows(float* __restrict__ qkv, int rowStride,
                                               const float* __restrict__ invFreq,
                                               const int* __restrict__ header, int nHeads, int headDim,
                                               int vOffset, __half* __restrict__ bufK,
                                               __half* __restrict__ bufV, int bufCapacity) {
    qs_wait_prior_grid();
    const int row = blockIdx.x;
    const int head = blockIdx.y;
    const int half = headDim >> 1;
    const int i = threadIdx.x;
    if (i >= half) return;
    float* r = qkv + (size_t)row * rowStride;
    float* v = r + (size_t)head * headDim;
    qs_rope_rotate(v, invFreq, header[0] + row, i, half);
    const int h = head - nHeads;
    const int at = header[2] + row;
    if (h < 0 || at < 0 || at >= bufCapacity) return;
    const float* val = r + vOffset + (size_t)h * headDim;
    const size_t dst = ((size_t)h * bufCapacity + at) * headDim;
    bufK[dst + i] = __float2half_rn(v[i]);
    bufK[dst + i + half] = __float2half_rn(v[i + half]);
    bufV[dst + i] = __float2half_rn(val[i]);
    bufV[dst + i + half] = __float2half_rn(val[i + half]);
}

// SwiGLU of n rows: gateUp fp32 [n][2 ffn] (gate then up in each row, the fused gate/up GEMV output)
// -> hidden fp32 [n][ffn], hidden = silu(gate) * up with qs_silu_mul (the math of qs_swiglu).
// grid-stride over n * ffn: any grid and block.
extern "C" __global__ void qs_swiglu_rows(const float* __restrict__ gateUp, float* __restrict__ hidden, int n,
                                          int ffn) {
    qs_wait_prior_grid();
    const long long total = (long long)n * ffn;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const long long row = idx / ffn;
        const long long j = idx - row * ffn;
        const float* r = gateUp + row * 2 * ffn;
        hidden[idx] = qs_silu_mul(r[j], r[ffn + j]);
    }
}

// Per row of logits fp32 [n][vocab]: outIds[i] = index of the first maximum (NaNs ignored, -1 when
// the row has no number), the block code of qs_argmax. grid: n, block: ARGMAX_THREADS.
extern "C" __global__ void __launch_bounds__(ARGMAX_THREADS)
    qs_argmax_rows(const float* __restrict__ logits, int vocab, int* __restrict__ outIds) {
    qs_wait_prior_grid();
    qs_argmax_block(logits + (size_t)blockIdx.x * vocab, vocab, outIds + blockIdx.x);
}
