// 4-bit GEMV round 5, run 2 (the diagnostic behind the L2 prefetch chain of gemv_round5.cu): does a GEMV of the
// draft layer get faster when its weights are already in L2, and does a bulk L2 prefetch put them there and keep them
// through an evict-first stream? Each of the four GEMVs alone (plain launches, no PDL), span from its first block's
// start to its last block's end (globaltimer), median over 8 distinct matrices x 3 (modes listed above main).
// Kernels and helpers: round5_common.cuh, as gemv_round5.cu. Build: build5.sh
#include "round5_common.cuh"
}


// ---- round 5b: does a GEMV get faster when its weights are in L2? Per slot, one kernel alone (plain launches, no
// PDL), span from its first block's start to its last block's end (globaltimer), median over 8 matrices x 3:
//   cold         after a 256 MB flush (normal loads of other data)
//   loaded       flush, then a kernel reads the matrix with normal loads (ld.global), then the GEMV
//   prefetched   flush, the matrix bulk-prefetched (cp.async.bulk.prefetch.L2, grid 264), a 40 us spin, the GEMV
//   pf-evictlast the same with an L2::evict_last policy
//   pf+stream48  prefetched, then 48 MB of other data streamed with __ldcs (a gate/up-sized stream), then the GEMV
//   pf+stream570 prefetched, then 570 MB streamed with __ldcs (the 128K attention), then the GEMV
__global__ void readall(const uint4* __restrict__ p, long long n, unsigned* sink) {
    uint32_t acc = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        uint4 v = p[i]; acc ^= v.x + v.y + v.z + v.w;
    }
    if (acc == 0x9e3779b9u) atomicAdd(sink, 1u);
}
template <int HINT>
__global__ void pfkernel(const void* a, long long ab, const void* b, long long bb) {
    qs_l2_prefetch_slice<HINT>(a, ab); qs_l2_prefetch_slice<HINT>(b, bb);
}
__global__ void spin(unsigned ns) { const unsigned long long t = gtime(); while (gtime() - t < ns) {} }

int main() {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    const int dim = 4096, qkvR = 12288, ffn = 11008, NM = 8;
    std::vector<Mat> W[4];
    for (int l = 0; l < NM; ++l) {
        W[0].push_back(makeMat(qkvR, dim, 100 + l)); W[1].push_back(makeMat(dim, dim, 200 + l));
        W[2].push_back(makeMat(2 * ffn, dim, 300 + l)); W[3].push_back(makeMat(dim, ffn, 400 + l));
    }
    const size_t kvMax = 600ull << 20;
    uint4* kv; CK(cudaMalloc(&kv, kvMax)); fill_u32<<<4096, 256>>>((uint32_t*)kv, kvMax / 4, 77);
    float *x, *out; __nv_bfloat16* nw; unsigned *sink, *part; unsigned long long* stamp;
    CK(cudaMalloc(&x, ffn * 4)); CK(cudaMalloc(&out, 2 * ffn * 4)); CK(cudaMalloc(&nw, dim * 2)); CK(cudaMalloc(&sink, 4));
    CK(cudaMalloc(&part, 256)); CK(cudaMalloc(&stamp, 16));
    fill_bf16<<<16, 256>>>(nw, dim, 5);
    CK(cudaMemcpy(x, std::vector<float>(ffn, 0.1f).data(), ffn * 4, cudaMemcpyHostToDevice));
    CK(cudaDeviceSynchronize());
    const char* sn[4] = {"qkv _norm 12288x4096", "o _acc 4096x4096", "gate/up _norm_swiglu 22016x4096", "down _acc 4096x11008"};
    const char* mn[7] = {"cold", "loaded", "prefetched", "pf-evictlast", "pf+stream48", "pf+stream570", "pf-start-in-gemv"};
    for (int s = 0; s < 4; ++s) {
        printf("%-32s (%.1f MB):", sn[s], (W[s][0].cb() + W[s][0].pb()) / 1e6);
        for (int mode = 0; mode < 7; ++mode) {
            std::vector<double> t;
            for (int rep = 0; rep < 3; ++rep)
                for (int i = 0; i < NM; ++i) {
                    const Mat& m = W[s][i];
                    readall<<<528, 512, 0, st>>>(kv, (256ll << 20) / 16, sink);  // flush
                    if (mode == 1) { readall<<<528, 512, 0, st>>>((const uint4*)m.c, m.cb() / 16, sink); readall<<<528, 512, 0, st>>>((const uint4*)m.p, m.pb() / 16, sink); }
                    if (mode == 2 || mode >= 4 && mode <= 5) pfkernel<0><<<264, 256, 0, st>>>(m.c, m.cb(), m.p, m.pb());
                    if (mode == 3) pfkernel<1><<<264, 256, 0, st>>>(m.c, m.cb(), m.p, m.pb());
                    spin<<<1, 32, 0, st>>>(40000);
                    if (mode == 4) attn_standin<false><<<528, 512, 0, st>>>(kv + (300ll << 20) / 16, (48ll << 20) / 16, x, part, nullptr);
                    if (mode == 5) attn_standin<false><<<528, 512, 0, st>>>(kv, (570ll << 20) / 16, x, part, nullptr);
                    unsigned long long h[2] = {~0ull, 0};
                    CK(cudaMemcpyAsync(stamp, h, 16, cudaMemcpyHostToDevice, st));
                    const int r = s == 0 || s == 2 ? 4 : 2;
                    const int grid = s == 2 ? (m.rows / 2 + 8 * (r / 2) - 1) / (8 * (r / 2)) : (m.rows + 8 * r - 1) / (8 * r);
                    // mode 6: the GEMV itself prefetches its own whole matrix at its start (AT 1), spread over its blocks
                    const int at = mode == 6 ? 1 : 0;
                    kset[at][0][s]<<<grid, 256, 0, st>>>(m.c, m.p, x, nw, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4,
                                                         mode == 6 ? (const void*)m.c : nullptr, (long long)m.cb(),
                                                         mode == 6 ? (const void*)m.p : nullptr, (long long)m.pb(), stamp);
                    CK(cudaMemcpyAsync(h, stamp, 16, cudaMemcpyDeviceToHost, st));
                    CK(cudaStreamSynchronize(st));
                    t.push_back((h[1] - h[0]) / 1e3);
                }
            std::sort(t.begin(), t.end());
            printf("  %s %.2f", mn[mode], t[t.size() / 2]);
        }
        printf("  (us)\n");
    }
    CK(cudaGetLastError());
    printf("round5b done\n");
    return 0;
}
