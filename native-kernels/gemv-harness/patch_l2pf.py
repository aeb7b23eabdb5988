#!/usr/bin/env python3
"""Round 5 (L2 prefetch chain): writes a copy of the engine's q4gemv.cuh with qs_l2_prefetch_slice and the body's
L2AT / L2HINT template arguments and l2a / l2b ranges (the harness-only body gemv_round5*.cu measure; the engine
kernels are unchanged, so the entries in the copy are bitwise the engine's).
Usage: patch_l2pf.py <engine q4gemv.cuh> <output q4gemv.cuh>. Fails loudly if the engine header no longer matches."""
import sys

src, dst = sys.argv[1], sys.argv[2]
s = open(src).read()

HELPER = r'''
// L2 prefetch of the NEXT kernel's weights (round 5, harness only): block b of the grid issues fire-and-forget L2
// prefetches of its contiguous slice of [base, base + bytes) (slices of ceil(bytes / gridDim.x) rounded up to 16
// bytes; bytes rounded down to 16). HINT 0: cp.async.bulk.prefetch.L2 in 8 KB pieces; 1: the same with an
// L2::evict_last policy; 2: prefetch.global.L2::evict_last per 128-byte line. Moves no data into registers.
template <int HINT = 0>
__device__ __forceinline__ void qs_l2_prefetch_slice(const void* base, long long bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (base == nullptr || bytes < 16) return;
    bytes &= ~15LL;
    const long long per = ((bytes + gridDim.x - 1) / gridDim.x + 15) & ~15LL;
    const long long lo = (long long)blockIdx.x * per;
    const long long hi = lo + per < bytes ? lo + per : bytes;
    const char* p = reinterpret_cast<const char*>(base);
    if (HINT == 2) {
        for (long long o = lo + (long long)threadIdx.x * 128; o < hi; o += (long long)blockDim.x * 128)
            asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(p + o) : "memory");
        return;
    }
    constexpr long long PIECE = 8192;
    for (long long o = lo + (long long)threadIdx.x * PIECE; o < hi; o += (long long)blockDim.x * PIECE) {
        const unsigned n = (unsigned)(hi - o < PIECE ? hi - o : PIECE);
        if (HINT == 1) {
            uint64_t pol;
            asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(pol));
            asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;" ::"l"(p + o), "r"(n), "l"(pol) : "memory");
        } else {
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p + o), "r"(n) : "memory");
        }
    }
#endif
}
'''
PF = "{ qs_l2_prefetch_slice<L2HINT>(l2a, l2aBytes); qs_l2_prefetch_slice<L2HINT>(l2b, l2bBytes); }"
edits = [
    ('''
template <int THREADS, int ROWS, int UNROLL, bool PREFETCH = false, int OMODE = QS_Q4_OUT_STORE,
          int XMODE = QS_Q4_X_PLAIN, bool TRIGGER = false>''',
     HELPER + '''
template <int THREADS, int ROWS, int UNROLL, bool PREFETCH = false, int OMODE = QS_Q4_OUT_STORE,
          int XMODE = QS_Q4_X_PLAIN, bool TRIGGER = false, int L2AT = 0, int L2HINT = 0>'''),
    ('''                                                   float eps = 0.0f, QsQ4Rope rope = {}) {''',
     '''                                                   float eps = 0.0f, QsQ4Rope rope = {}, const void* l2a = nullptr,
                                                   long long l2aBytes = 0, const void* l2b = nullptr,
                                                   long long l2bBytes = 0) {
    // L2AT: where the block issues its slice of the next weights' L2 prefetch (0 none, 1 at its start, 2 after
    // its first chunk's loads, 3 after its last chunk)
    if (L2AT == 1) ''' + PF),
    ('''            if (TRIGGER) qs_launch_dependents();
            qs_wait_prior_grid();''',
     '''            if (TRIGGER) qs_launch_dependents();
            if (L2AT == 2) ''' + PF + '''
            qs_wait_prior_grid();'''),
    ('''    float rms = 1.0f;
    if (XMODE == QS_Q4_X_NORM) {''',
     '''    if (L2AT == 3) ''' + PF + '''
    float rms = 1.0f;
    if (XMODE == QS_Q4_X_NORM) {'''),
]
for old, new in edits:
    if s.count(old) != 1:
        sys.exit("patch_l2pf.py: the engine's q4gemv.cuh changed; this anchor is not found once:\n" + old)
    s = s.replace(old, new)
open(dst, "w").write(s)
