# PyTorch SDPA bf16 with Q queries (5: verification, the default; 1: the draft step), cuDNN and flash backends, at
# the harnesses' shapes: the method of scripts/gpu-run-quantkv.sh (CUDA graph of 20 calls over rotating copies of
# >= 512 MB of K/V, median of 7 replays). Usage: peer_sdpa.py <out.json> [Q]
import json, sys, torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
dev, dt, ROT = "cuda", torch.bfloat16, 512 << 20
Q = int(sys.argv[2]) if len(sys.argv) > 2 else 5
def bench(fn, per=20, batches=7):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph(); s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s): fn()
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g):
        for _ in range(per): fn()
    g.replay(); torch.cuda.synchronize(); ts = []
    for _ in range(batches):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b) * 1000 / per)
    ts.sort(); return ts[len(ts) // 2]
res = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "rows": []}
for ctx in (8192, 32768, 131072, 262144):
    for name, H, KVH in (("llama2-7b", 32, 32), ("llama3.1-8b", 32, 8)):
        kvb = 2 * KVH * ctx * 128 * 2; copies = max(2, -(-ROT // kvb))
        Ks = [torch.randn(1, KVH, ctx, 128, device=dev, dtype=dt) for _ in range(copies)]
        Vs = [torch.randn_like(k) for k in Ks]
        q = torch.randn(1, H, Q, 128, device=dev, dtype=dt); it = [0]
        row = {"model": name, "ctx": ctx, "queries": Q, "bytes": kvb}
        for bn, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
            def f():
                it[0] += 1; i = it[0] % copies
                return F.scaled_dot_product_attention(q, Ks[i], Vs[i], enable_gqa=(KVH != H))
            try:
                with sdpa_kernel(be):
                    row[bn] = round(bench(f), 2)
            except Exception as ex:
                row[bn] = "failed: " + str(ex).replace("\n", " ")[:100]
        res["rows"].append(row); print("sdpa", row, flush=True)
        del Ks, Vs; torch.cuda.empty_cache()
json.dump(res, open(sys.argv[1], "w"), indent=1)
