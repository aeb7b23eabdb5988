#!/usr/bin/env bash
# The quantized-KV kernels on the H200 host, from the bundle that scripts/build-gpu-bundle.sh made
# (.bundle/, carried with the working tree): their GPU tests, their benchmark (CudaKernelBenchmark's
# method) and PyTorch SDPA bf16 at the same shapes in the same call. Writes into $OUT:
#   quantkv-tests.log  JUnit console output of QuantizedKvGpuTest
#   quantkv.json       our kernels (QuantizedAttentionBenchmark)
#   peer_sdpa.json     SDPA cudnn / flash / efficient, 1 and 5 queries
#   quantkv.md         the side-by-side table (speedups against the best SDPA of the same query count)
# Usage (repository root): OUT=/some/dir scripts/gpu-run-quantkv.sh [--skip-tests] [--skip-bench] [--skip-peer]
set -uo pipefail
args=" $* "
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.bundle"
OUT="${OUT:-/tmp/out}"
work=/tmp/qs-quantkv
mkdir -p "$OUT" "$work"
cd "$root"
if [[ ! -x "$work/jdk/bin/java" ]]; then
    tar -xJf "$bundle/jdk.tar.xz" -C "$work" || { echo "cannot unpack $bundle/jdk.tar.xz"; exit 1; }
fi
java="$work/jdk/bin/java"
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cp="$(ls "$bundle"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
jopts=(--add-modules=jdk.incubator.vector -Xss4m -Dorg.bytedeco.javacpp.cachedir="$work/javacpp-cache")
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv | tee "$OUT/gpu.csv"
tests_rc=0
if [[ "$args" != *" --skip-tests "* ]]; then
    timeout "${TEST_TIMEOUT:-200}" "$java" "${jopts[@]}" -jar "$bundle"/lib/junit-platform-console-standalone-*.jar execute \
        --class-path "$cp$bundle/test-classes" --select-class dev.quantspec.cuda.QuantizedKvGpuTest \
        --details=tree --disable-banner --disable-ansi-colors > "$OUT/quantkv-tests.log" 2>&1
    tests_rc=$?
    grep -E "✘|\[X\]|tests (successful|failed)|expected|Expect|but was|at index|Exception" "$OUT/quantkv-tests.log" | head -60
fi
if [[ "$args" != *" --skip-bench "* ]]; then
    timeout "${BENCH_TIMEOUT:-200}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.QuantizedAttentionBenchmark "$OUT/quantkv.json" 2>&1
fi
cat > "$work/peer_sdpa.py" <<'PY'
# PyTorch SDPA bf16 at the quantized-kernel shapes: 1 query (draft) and 5 queries (verification,
# no mask: the five rows sit at the end of the context, where a causal mask changes nothing measurable).
import json, os, sys, torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
dev, dt, ROT = "cuda", torch.bfloat16, 512 << 20
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
res = {"torch": torch.__version__, "rows": []}
for ctx in (8192, 32768, 131072, 262144):
    for name, H, KVH in (("llama2-7b", 32, 32), ("llama3.1-8b", 32, 8)):
        kvb = 2 * KVH * ctx * 128 * 2; copies = max(2, -(-ROT // kvb))
        Ks = [torch.randn(1, KVH, ctx, 128, device=dev, dtype=dt) for _ in range(copies)]
        Vs = [torch.randn_like(k) for k in Ks]
        for nq in (1, 5):
            q = torch.randn(1, H, nq, 128, device=dev, dtype=dt); it = [0]
            row = {"model": name, "ctx": ctx, "queries": nq, "bytes": kvb}
            for bn, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                           ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
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
PY
if [[ "$args" != *" --skip-peer "* ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-200}" python3 "$work/peer_sdpa.py" "$OUT/peer_sdpa.json" 2>&1 | grep -v Warning
fi
cat > "$work/summary.py" <<'PY'
import json, sys
out = sys.argv[1]
def load(p):
    try: return json.load(open(p))
    except Exception as e: return {"rows": [], "missing": str(e)}
ours, peer = load(f"{out}/quantkv.json"), load(f"{out}/peer_sdpa.json")
md = ["| view | model | ctx | kernel | ours us | GB/s read | of 4262 | SDPA cudnn | flash | efficient | speedup vs cudnn | vs best SDPA |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|"]
best_rows = {}
for r in ours["rows"]:
    key = (r["view"], r["model"], r["ctx"])
    if key not in best_rows or r["us"] < best_rows[key]["us"]: best_rows[key] = r
def line(r):
    p = next((x for x in peer["rows"] if x["model"] == r["model"] and x["ctx"] == r["ctx"] and x["queries"] == r["queries"]), {})
    nums = {k: p.get(k) for k in ("cudnn", "flash", "efficient")}
    ok = {k: v for k, v in nums.items() if isinstance(v, (int, float))}
    best = min(ok.values()) if ok else None
    cell = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) else ("-" if v is None else "failed")
    sp = lambda v: f"{v / r['us']:.2f}x" if v else "-"
    return (f"| {r['view']} ({r['queries']}q) | {r['model']} | {r['ctx']} | {r['kernel']} | {r['us']:.1f} | {r['GBps']:.0f} | "
            f"{100 * r['fraction_of_4262']:.1f}% | {cell(nums['cudnn'])} | {cell(nums['flash'])} | {cell(nums['efficient'])} | "
            f"{sp(ok.get('cudnn'))} | {sp(best)} |")
md += [line(r) for r in best_rows.values()]
md += ["", "All variants:", ""] + md[:2] + [line(r) for r in ours["rows"]]
open(f"{out}/quantkv.md", "w").write("\n".join(md) + "\n"); print("\n".join(md))
PY
python3 "$work/summary.py" "$OUT"
exit $tests_rc
