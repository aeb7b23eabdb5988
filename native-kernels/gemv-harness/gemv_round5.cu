// 4-bit GEMV round 5: an L2 prefetch chain. While one kernel of the draft layer runs, its blocks issue
// fire-and-forget L2 prefetches (cp.async.bulk.prefetch.L2, or prefetch.global.L2::evict_last per line) of the
// NEXT GEMV's weights, so that GEMV reads (part of) them from L2 and DRAM stays busy across kernel boundaries.
// Built against the CURRENT engine headers (half2 params): build5.sh copies native-kernels/src/main/cuda and patches
// q4gemv.cuh with patch_l2pf.py (qs_l2_prefetch_slice, the body's L2AT / L2HINT template arguments and l2a / l2b
// ranges; harness only: the prefetch lost, bench-results/h200-2026-11-29-gemv-round5.md).
// Chain per layer (32 layers, distinct weights, one CUDA graph, every launch with programmatic serialization):
//   qkv  h2 R4 U2 _norm            (12288 x 4096)
//   rope stand-in (1 block)        [may prefetch o]
//   attention stand-in: streams KV bytes with __ldcs (none / 36 MB "8K" / 570 MB "128K"), grid 132 x 4
//   combine stand-in (16 blocks)   [may prefetch o]
//   o    h2 R2 U2 PF _acc          (4096 x 4096)
//   gate/up h2 R4 U2 _norm_swiglu  (22016 x 4096)
//   down h2 R2 U2 PF _acc          (4096 x 11008)
// Plans name which kernel prefetches what (fractions of the next matrix's codes and params, a prefix: the rows
// the next kernel's first blocks read). Every plan's final x must be bitwise the no-prefetch chain's.
// Also a timeline per plan (globaltimer stamps per launch: first block start, last block end) to split the layer.
// Build: native-kernels/gemv-harness/build5.sh
#include "round5_common.cuh"
}

// a plan: per slot (0 qkv, 1 o, 2 gate/up, 3 down, 4 rope, 5 combine) the fraction of its NEXT matrix to prefetch
// (qkv -> o, o -> gate/up, gate/up -> down, down -> next layer's qkv (none after the last layer), rope / combine -> o)
struct Plan { const char* name; int at, hint; float f[6]; bool entries; };
static const Plan plans[] = {
    {"ENTRIES (engine kernels, no prefetch)", 0, 0, {0, 0, 0, 0, 0, 0}, true},
    {"base (harness kernels, no prefetch)", 0, 0, {0, 0, 0, 0, 0, 0}, false},
    {"A: gu->down, down->qkv', qkv->o @first-loads", 2, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A @block-start", 1, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A @block-end", 3, 0, {1, 0, 1, 1, 0, 0}, false},
    {"A evict_last bulk", 2, 1, {1, 0, 1, 1, 0, 0}, false},
    {"A evict_last per-line", 2, 2, {1, 0, 1, 1, 0, 0}, false},
    {"A 1/2 prefix", 2, 0, {0.5f, 0, 0.5f, 0.5f, 0, 0}, false},
    {"A 1/4 prefix", 2, 0, {0.25f, 0, 0.25f, 0.25f, 0, 0}, false},
    {"A 1/8 prefix", 2, 0, {0.125f, 0, 0.125f, 0.125f, 0, 0}, false},
    {"only gu->down", 2, 0, {0, 0, 1, 0, 0, 0}, false},
    {"only down->qkv'", 2, 0, {0, 0, 0, 1, 0, 0}, false},
    {"only qkv->o", 2, 0, {1, 0, 0, 0, 0, 0}, false},
    {"only rope->o", 2, 0, {0, 0, 0, 0, 1, 0}, false},
    {"only combine->o", 2, 0, {0, 0, 0, 0, 0, 1}, false},
    {"gu->down, down->qkv', combine->o", 2, 0, {0, 0, 1, 1, 0, 1}, false},
    {"only o->gu 1/4", 2, 0, {0, 0.25f, 0, 0, 0, 0}, false},
    {"A + o->gu 1/4", 2, 0, {1, 0.25f, 1, 1, 0, 0}, false},
    {"A + o->gu 1/2", 2, 0, {1, 0.5f, 1, 1, 0, 0}, false},
    {"A + o->gu 1/4 @block-end", 3, 0, {1, 0.25f, 1, 1, 0, 0}, false},
};
static const int NPLAN = sizeof(plans) / sizeof(plans[0]);

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    const int reps = argc > 1 ? atoi(argv[1]) : 3;
    CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs, L2 %d MB, persisting L2 max %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20,
           prop.persistingL2CacheMaxSize >> 20);
    {
        cudaFuncAttributes a;
        for (int at = 0; at < 4; ++at) for (int s = 0; s < 4; ++s) {
            CK(cudaFuncGetAttributes(&a, (const void*)kset[at][at ? 1 : 0][s]));
            int b; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, (const void*)kset[at][0][s], 256, 0));
            printf("AT %d slot %d: regs %d, blocks/SM %d\n", at, s, a.numRegs, b);
        }
    }
    double copyGBs;
    {
        void* a; size_t n = 1000ull << 20; CK(cudaMalloc(&a, 2 * n));
        float us = timeit([&](int) { CK(cudaMemcpyAsync((char*)a + n, a, n, cudaMemcpyDeviceToDevice, st)); }, 10);
        copyGBs = 2.0 * n / us / 1e3;
        printf("D2D copy 1000 MiB: %.1f us, %.0f GB/s (read+write)\n", us, copyGBs);
        CK(cudaFree(a));
    }
    const int layers = 32, dim = 4096, qkvR = 12288, ffn = 11008;
    std::vector<Mat> W[4];
    std::vector<__nv_bfloat16*> n1, n2;
    for (int l = 0; l < layers; ++l) {
        W[0].push_back(makeMat(qkvR, dim, 100 + l)); W[1].push_back(makeMat(dim, dim, 200 + l));
        W[2].push_back(makeMat(2 * ffn, dim, 300 + l)); W[3].push_back(makeMat(dim, ffn, 400 + l));
        __nv_bfloat16 *a, *b; CK(cudaMalloc(&a, dim * 2)); CK(cudaMalloc(&b, dim * 2));
        fill_bf16<<<16, 256>>>(a, dim, 500 + l); fill_bf16<<<16, 256>>>(b, dim, 600 + l); n1.push_back(a); n2.push_back(b);
    }
    const size_t kvMax = 600ull << 20;
    uint4* kv; CK(cudaMalloc(&kv, kvMax)); fill_u32<<<4096, 256>>>((uint32_t*)kv, kvMax / 4, 77);
    float *x, *qkv, *qr, *att, *hid; unsigned* part; unsigned long long* stamps;
    CK(cudaMalloc(&x, dim * 4)); CK(cudaMalloc(&qkv, qkvR * 4)); CK(cudaMalloc(&qr, dim * 4)); CK(cudaMalloc(&att, dim * 4));
    CK(cudaMalloc(&hid, ffn * 4)); CK(cudaMalloc(&part, 64 * 4)); CK(cudaMemset(part, 0, 256));
    const int NST = layers * 7;
    CK(cudaMalloc(&stamps, NST * 16));
    std::vector<float> hx(dim);
    { uint32_t s = 7; for (auto& v : hx) { s = s * 1664525u + 1013904223u; v = ((s >> 8) / 16777216.0f) * 2 - 1; } }
    CK(cudaMemcpy(hid, std::vector<float>(ffn, 0.1f).data(), ffn * 4, cudaMemcpyHostToDevice));
    CK(cudaDeviceSynchronize());
    const double layerMB = (W[0][0].cb() + W[0][0].pb() + W[1][0].cb() + W[1][0].pb() + W[2][0].cb() + W[2][0].pb() + W[3][0].cb() + W[3][0].pb()) / 1e6;
    printf("weights per layer %.1f MB (qkv %.1f, o %.1f, gate/up %.1f, down %.1f)\n", layerMB, (W[0][0].cb() + W[0][0].pb()) / 1e6,
           (W[1][0].cb() + W[1][0].pb()) / 1e6, (W[2][0].cb() + W[2][0].pb()) / 1e6, (W[3][0].cb() + W[3][0].pb()) / 1e6);

    struct Mode { const char* name; long long kvBytes; bool ef; };
    const Mode modes[] = {{"no-attn", 0, false}, {"8K-like (36 MB)", 36ll << 20, false}, {"128K-like (570 MB)", 570ll << 20, false},
                          {"128K-like EF", 570ll << 20, true}};
    bool allOk = true;
    auto gemv = [&](const Plan& p, int slot, const Mat& m, const float* in, const __nv_bfloat16* w, float* out, const Mat* next,
                    unsigned long long* stamp) {
        const float f = p.f[slot];
        const void* a = next && f > 0 ? (const void*)next->c : nullptr; const void* b = next && f > 0 ? (const void*)next->p : nullptr;
        const long long ab = next && f > 0 ? (long long)(f * next->cb()) : 0, bb = next && f > 0 ? (long long)(f * next->pb()) : 0;
        const int r = slot == 0 || slot == 2 ? 4 : 2;
        const int grid = slot == 2 ? (m.rows / 2 + 8 * (r / 2) - 1) / (8 * (r / 2)) : (m.rows + 8 * r - 1) / (8 * r);
        if (p.entries) {
            if (slot == 0) launch(qs_q4_gemv_h2_r4u2_norm, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4);
            else if (slot == 2) launch(qs_q4_gemv_h2_r4u2_norm_swiglu, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs, m.gpr, 4);
            else launch(qs_q4_gemv_h2_r2u2p_acc, grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, out, m.rows, m.cols, m.rs, m.gpr, 4);
            return;
        }
        launch(kset[p.at][p.hint][slot], grid, 256, (const uint8_t*)m.c, (const __half2*)m.p, in, w, 1e-5f, out, m.rows, m.cols, m.rs,
               m.gpr, 4, a, ab, b, bb, stamp);
    };
    auto chain = [&](const Plan& p, const Mode& md, bool stamp) {
        for (int l = 0; l < layers; ++l) {
            unsigned long long* s = stamp ? stamps + l * 14 : nullptr;
            auto S = [&](int k) { return s ? s + 2 * k : nullptr; };
            gemv(p, 0, W[0][l], x, n1[l], qkv, &W[1][l], S(0));
            const Mat& o = W[1][l];
            const float fr = p.f[4], fc = p.f[5];
            if (p.hint == 1) launch(rope_standin<1>, 1, 256, (const float*)qkv, qr, dim, fr > 0 ? (const void*)o.c : nullptr, (long long)(fr * o.cb()), fr > 0 ? (const void*)o.p : nullptr, (long long)(fr * o.pb()), S(1));
            else launch(rope_standin<0>, 1, 256, (const float*)qkv, qr, dim, fr > 0 ? (const void*)o.c : nullptr, (long long)(fr * o.cb()), fr > 0 ? (const void*)o.p : nullptr, (long long)(fr * o.pb()), S(1));
            if (md.kvBytes) {
                if (md.ef) launch(attn_standin<true>, 132 * 4, 512, (const uint4*)kv, md.kvBytes / 16, (const float*)qr, part, S(2));
                else launch(attn_standin<false>, 132 * 4, 512, (const uint4*)kv, md.kvBytes / 16, (const float*)qr, part, S(2));
            }
            launch(combine_standin<0>, 16, 256, (const float*)qr, (const float*)qkv, (const unsigned*)part, att, dim, qkvR, fc > 0 ? (const void*)o.c : nullptr,
                   (long long)(fc * o.cb()), fc > 0 ? (const void*)o.p : nullptr, (long long)(fc * o.pb()), S(3));
            gemv(p, 1, W[1][l], att, nullptr, x, &W[2][l], S(4));
            gemv(p, 2, W[2][l], x, n2[l], hid, &W[3][l], S(5));
            gemv(p, 3, W[3][l], hid, nullptr, x, l + 1 < layers ? &W[0][l + 1] : nullptr, S(6));
        }
    };
    for (const Mode& md : modes) {
        printf("\n==== %s: 32 layers, us per layer (min / median / max of %d reps, 20 graph replays each), final x vs no-prefetch\n", md.name, reps);
        std::vector<float> xRef;
        std::vector<std::vector<float>> t(NPLAN);
        std::vector<cudaGraphExec_t> ge(NPLAN), geS(NPLAN);
        for (int pi = 0; pi < NPLAN; ++pi) {
            for (int k = 0; k < 2; ++k) {
                cudaGraph_t g;
                CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
                chain(plans[pi], md, k == 1);
                CK(cudaStreamEndCapture(st, &g));
                CK(cudaGraphInstantiate(k ? &geS[pi] : &ge[pi], g, 0)); CK(cudaGraphDestroy(g));
            }
        }
        bool modeOk = true;
        for (int pi = 0; pi < NPLAN; ++pi) {  // correctness: two replays bitwise, and bitwise the no-prefetch chain
            std::vector<float> xa(dim), xb(dim);
            CK(cudaMemset(part, 0, 256));
            CK(cudaMemcpy(x, hx.data(), dim * 4, cudaMemcpyHostToDevice)); CK(cudaGraphLaunch(ge[pi], st)); CK(cudaStreamSynchronize(st));
            CK(cudaMemcpy(xa.data(), x, dim * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemset(part, 0, 256));
            CK(cudaMemcpy(x, hx.data(), dim * 4, cudaMemcpyHostToDevice)); CK(cudaGraphLaunch(ge[pi], st)); CK(cudaStreamSynchronize(st));
            CK(cudaMemcpy(xb.data(), x, dim * 4, cudaMemcpyDeviceToHost));
            if (pi == 0) xRef = xa;
            const bool ok = memcmp(xa.data(), xb.data(), dim * 4) == 0 && memcmp(xa.data(), xRef.data(), dim * 4) == 0;
            bool finite = true; for (float v : xa) finite &= std::isfinite(v);
            if (!ok || !finite) { printf("   plan %s: NOT bitwise (%s)  <-- FAIL\n", plans[pi].name, finite ? "finite" : "non-finite"); modeOk = false; }
        }
        allOk &= modeOk;
        for (int r = 0; r < reps; ++r)
            for (int pi = 0; pi < NPLAN; ++pi) t[pi].push_back(timeit([&](int) { CK(cudaGraphLaunch(ge[pi], st)); }, 20) / layers);
        // timeline (one replay with stamps, after a warm replay): per launch the end minus the previous launch's end
        const char* kn[7] = {"qkv", "rope", "attn", "comb", "o", "gu", "down"};
        float base = 0;
        for (int pi = 0; pi < NPLAN; ++pi) {
            std::sort(t[pi].begin(), t[pi].end());
            const float med = t[pi][t[pi].size() / 2];
            if (pi == 1) base = med;
            double inc[7] = {0}; double span[7] = {0};
            if (!plans[pi].entries) {
                CK(cudaGraphLaunch(geS[pi], st));
                std::vector<unsigned long long> h(NST * 2);
                for (int l = 0; l < NST; ++l) { h[2 * l] = ~0ull; h[2 * l + 1] = 0; }
                CK(cudaMemcpyAsync(stamps, h.data(), NST * 16, cudaMemcpyHostToDevice, st));
                CK(cudaGraphLaunch(geS[pi], st)); CK(cudaStreamSynchronize(st));
                CK(cudaMemcpy(h.data(), stamps, NST * 16, cudaMemcpyDeviceToHost));
                int nl = 0;
                for (int l = 1; l < layers; ++l, ++nl) {  // layers 1..31 (the previous launch is the last one before)
                    unsigned long long prevEnd = h[(l - 1) * 14 + 6 * 2 + 1];
                    for (int k = 0; k < 7; ++k) {
                        const unsigned long long* s = &h[l * 14 + 2 * k];
                        if (s[1] == 0) continue;  // absent (no attention)
                        inc[k] += (double)(s[1] - prevEnd) / 1e3; span[k] += (double)(s[1] - s[0]) / 1e3; prevEnd = s[1];
                    }
                }
                for (int k = 0; k < 7; ++k) { inc[k] /= nl; span[k] /= nl; }
            }
            printf("%-46s %7.2f %7.2f %7.2f  %+6.2f%% vs base |", plans[pi].name, t[pi][0], med, t[pi].back(), base > 0 ? 100 * (med - base) / base : 0.0);
            if (!plans[pi].entries) for (int k = 0; k < 7; ++k) if (k != 1 && k != 3 && (k != 2 || md.kvBytes)) printf(" %s %.1f", kn[k], inc[k]);
            if (!plans[pi].entries) printf(" | rope+comb %.1f", inc[1] + inc[3]);
            printf("\n");
        }
        printf("%s: correctness %s\n", md.name, modeOk ? "ALL BITWISE" : "FAIL");
        for (int pi = 0; pi < NPLAN; ++pi) { CK(cudaGraphExecDestroy(ge[pi])); CK(cudaGraphExecDestroy(geS[pi])); }
    }
    printf("\nround5 correctness: %s\n", allOk ? "ALL OK" : "FAIL");
    return allOk ? 0 : 1;
}
