// A whole greedy QuantSpec round as one CUDA graph (CudaQuantSpecModel.greedyRound): the draft steps
// and the verification pass run back to back on the device, each draft step's input being the
// previous step's argmax, so the host uploads the round's start once and downloads its outcome once
// (instead of one upload, launch and download per step: the dominant cost for small models).
//
// round  int [4 + 2*maxPass]: [0] pos0, [1] quantized, [2] bufRow0, [3] a sampled round's failure flag (sampling.cuh
//        sets it when a row has no finite maximum; the host zeroes it with every round's upload),
//        [4 .. 4+maxPass)        the round's tokens: the input, then the drafts as they are made,
//        [4+maxPass .. 4+2*maxPass) the verification pass's argmax per row
// header int [4 + maxPass]: the pass header every pass kernel reads (see quantkv.cuh, passrows.cuh)
#pragma once
#include "common.cuh"

// header := the pass of `tokens` rows starting at round row `offset`. One warp; tokens <= 32.
extern "C" __global__ void qs_round_header(const int* __restrict__ round, int* __restrict__ header, int offset,
                                           int tokens) {
    qs_wait_prior_grid();
    const int t = threadIdx.x;
    if (t == 0) {
        header[0] = round[0] + offset;
        header[1] = round[1];
        header[2] = round[2] + offset;
        header[3] = 0;
    }
    if (t < tokens) header[4 + t] = round[4 + offset + t];
}

// dst[i] = src[i] for i < n (a draft's argmax into the round's tokens, the target's into its outcome).
extern "C" __global__ void qs_copy_ints(const int* __restrict__ src, int* __restrict__ dst, int n) {
    qs_wait_prior_grid();
    const int t = threadIdx.x;
    if (t < n) dst[t] = src[t];
}
