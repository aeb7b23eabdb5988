#!/usr/bin/env bash
# Runs on the H200 host from the bundle that scripts/build-gpu-bundle.sh made (.bundle/, carried
# with the working tree): the GPU tests, then the kernel micro-benchmarks, then the PyTorch peers in
# the same call, so every comparison is a ratio measured side by side. Writes into $OUT:
#   results.json  everything measured (ours, peers, test summary, GPU state)
#   results.md    the same as readable tables
#   tests.log     the JUnit console output;  junit/  its XML report
#   run.log       benchmark and peer output
#   decode.json   whole decode steps (CudaDecodeBenchmark: qs-tiny tokens/s, 7B shapes ms per step)
#   prefill.json  chunked prefill (CudaPrefillBenchmark: qs-tiny 1K/3K, Llama-2-7B 8K/32K, GPU events)
# Usage (from the repository root): OUT=/some/dir scripts/gpu-run.sh [--skip-peer] [--skip-kernel-bench]
#   [--skip-peer-kernels] [--skip-decode-bench] [--skip-prefill-bench]  (to fit a run into the device budget)
#   --only-prefill  only the chunked-prefill test class and the prefill benchmark
set -uo pipefail
args=" $* "
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.bundle"
OUT="${OUT:-/tmp/out}"
work=/tmp/qs-gpu-run
mkdir -p "$OUT" "$work"
cd "$root"

# --- Java from the bundle (the host has none)
if [[ ! -x "$work/jdk/bin/java" ]]; then
    tar -xJf "$bundle/jdk.tar.xz" -C "$work" || { echo "cannot unpack $bundle/jdk.tar.xz"; exit 1; }
fi
java="$work/jdk/bin/java"
# The host's CUDA 13.0 libraries. Never LD_BIND_NOW (GPU.md: the presets name a few newer functions).
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cp="$(ls "$bundle"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
jopts=(--add-modules=jdk.incubator.vector -Xss4m -Dorg.bytedeco.javacpp.cachedir="$work/javacpp-cache"
       -Dquantspec.shared="$bundle/shared")

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv > "$work/gpu.csv" 2>&1

if [[ "$args" == *" --only-prefill "* ]]; then
    args=" --skip-kernel-bench --skip-decode-bench --skip-peer-kernels --skip-peer $args"
    select=(--select-class dev.quantspec.cuda.ChunkedPrefillGpuTest)
else
    select=(--select-package dev.quantspec.cuda)
fi

# --- 1. tests: the GPU-tagged kernel tests and the CPU-side tests of the package
"$java" "${jopts[@]}" -jar "$bundle"/lib/junit-platform-console-standalone-*.jar execute \
    --class-path "$cp$bundle/test-classes" "${select[@]}" \
    --reports-dir "$OUT/junit" --details=tree --disable-banner --disable-ansi-colors > "$OUT/tests.log" 2>&1
tests_rc=$?
tail -15 "$OUT/tests.log"

# --- 2. our kernels, then whole decode steps
touch "$OUT/run.log"
if [[ "$args" != *" --skip-kernel-bench "* ]]; then
    "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaKernelBenchmark "$work/kernels.json" 2>&1 | tee -a "$OUT/run.log"
fi
if [[ "$args" != *" --skip-decode-bench "* ]]; then
    timeout "${DECODE_TIMEOUT:-240}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaDecodeBenchmark \
        "$work/decode.json" "$root/models/qs-tiny" 2>&1 | tee -a "$OUT/run.log"
    cp "$work/decode.json" "$OUT/decode.json" 2>/dev/null
fi

if [[ "$args" != *" --skip-prefill-bench "* ]]; then
    timeout "${PREFILL_TIMEOUT:-200}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaPrefillBenchmark \
        "$work/prefill.json" "$root/models/qs-tiny" 2>&1 | tee -a "$OUT/run.log"
    cp "$work/prefill.json" "$OUT/prefill.json" 2>/dev/null
fi

# --- 3. the PyTorch peers at the same shapes: cuBLAS GEMV and SDPA decode attention
cat > "$work/peer_kernels.py" <<'PY'
import json, os, torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
dev, dt = "cuda", torch.bfloat16
ROT = 512 << 20
def bench(fn, per=20, batches=7):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        fn()
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g):
        for _ in range(per): fn()
    g.replay(); torch.cuda.synchronize(); ts = []
    for _ in range(batches):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b) * 1000 / per)
    ts.sort(); return ts[len(ts) // 2]
res = {"gemv": {}, "attention": {}}
for rows, cols in [(4096, 4096), (12288, 4096), (11008, 4096), (22016, 4096), (4096, 11008), (32000, 4096),
                   (6144, 4096), (14336, 4096), (28672, 4096), (4096, 14336), (128256, 4096)]:
    nbytes = rows * cols * 2; copies = max(2, -(-ROT // nbytes))
    Ws = [torch.randn(rows, cols, device=dev, dtype=dt) * 0.02 for _ in range(copies)]
    x = torch.randn(1, cols, device=dev, dtype=dt); it = [0]
    def f():
        it[0] += 1; return F.linear(x, Ws[it[0] % copies])
    us = bench(f)
    res["gemv"][f"{rows}x{cols}"] = {"us": round(us, 2), "GBps": round(nbytes / us / 1e3, 1)}
    print("torch gemv", rows, cols, res["gemv"][f"{rows}x{cols}"], flush=True)
    del Ws
for name, H, KVH in [("llama2-7b", 32, 32), ("llama3.1-8b", 32, 8)]:
    for ctx in (8192, 32768, 131072):
        kvb = 2 * KVH * ctx * 128 * 2; copies = max(2, -(-ROT // kvb))
        q = torch.randn(1, H, 1, 128, device=dev, dtype=dt)
        Ks = [torch.randn(1, KVH, ctx, 128, device=dev, dtype=dt) for _ in range(copies)]
        Vs = [torch.randn_like(k) for k in Ks]; it = [0]; row = {}
        for bn, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            def f():
                it[0] += 1; i = it[0] % copies
                return F.scaled_dot_product_attention(q, Ks[i], Vs[i], enable_gqa=(KVH != H))
            try:
                with sdpa_kernel(be):
                    us = bench(f)
                row[bn] = {"us": round(us, 1), "GBps": round(kvb / us / 1e3, 1)}
            except Exception as ex:
                row[bn] = str(ex)[:80]
        res["attention"][f"{name} ctx {ctx}"] = row
        print("torch sdpa", name, ctx, row, flush=True)
        del Ks, Vs; torch.cuda.empty_cache()
json.dump(res, open(os.path.join(os.environ["WORK"], "peer_kernels.json"), "w"), indent=1)
PY
# The summary is written after each stage, so a run cut short still leaves results.json and results.md.
cat > "$work/summarize.py" <<'PY'
import json, os, re
work, out = os.environ["WORK"], os.environ["OUT"]
def load(p):
    try: return json.load(open(p))
    except Exception as e: return {"missing": f"{p}: {e}"}
ours, peer_k, peer = load(f"{work}/kernels.json"), load(f"{work}/peer_kernels.json"), load(f"{work}/peer/anchors2.json")
decode = load(f"{work}/decode.json")
prefill = load(f"{work}/prefill.json")
log = open(f"{out}/tests.log").read()
summary = {k: int(v) for v, k in re.findall(r"\[\s*(\d+) tests (successful|failed|found|skipped|aborted)\s*\]", log)}
gpu = open(f"{work}/gpu.csv").read().strip()
res = {"gpu": gpu, "tests": {"exit_code": int(os.environ["TESTS_RC"]), **summary},
       "ours": ours, "ours_decode": decode, "ours_prefill": prefill, "peer_kernels": peer_k, "peer_pytorch_decode": peer}
json.dump(res, open(f"{out}/results.json", "w"), indent=1)
md = ["# GPU run", "", "```", gpu, "```", "", f"Tests: {summary} (exit {os.environ['TESTS_RC']})", ""]
if "kernels" in ours:
    md += [f"Copy bandwidth measured in this run: {ours.get('copy_GBps', 0):.0f} GB/s (read + write); reference 4262 GB/s.", "",
           "| kernel | variant | shape | stream us | graph us | GB/s | of 4262 | peer (PyTorch) us | peer GB/s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in ours["kernels"]:
        pk = ""; pg = ""
        if r["kernel"] == "gemv_bf16":
            m = re.match(r"W\[(\d+)\]\[(\d+)\]", r["shape"]); p = peer_k.get("gemv", {}).get(f"{m[1]}x{m[2]}") if m else None
            if p: pk, pg = p["us"], p["GBps"]
        else:
            m = re.match(r"(\d+)q/(\d+)kv x128 ctx (\d+)", r["shape"])
            name = "llama2-7b" if m and m[2] == "32" else "llama3.1-8b"
            p = peer_k.get("attention", {}).get(f"{name} ctx {m[3]}") if m else None
            if p:
                best = [v for v in p.values() if isinstance(v, dict)]
                if best:
                    b = min(best, key=lambda v: v["us"]); pk, pg = b["us"], b["GBps"]
        g = "" if r["graph_us"] is None else f"{r['graph_us']:.1f}"
        md.append(f"| {r['kernel']} | {r['variant']} | {r['shape']} | {r['stream_us']:.1f} | {g} | {r['GBps']:.0f} | {100*r['fraction_of_4262']:.1f}% | {pk} | {pg} |")
md += ["", "Our whole decode step (CudaDecodeBenchmark):", "", "```"] + [json.dumps(r) for r in decode.get("rows", [])] + ["```"]
md += ["", "Our chunked prefill (CudaPrefillBenchmark):", "", "```"] + [json.dumps(r) for r in prefill.get("rows", [])] + ["```"]
md += ["", "Peer whole decode step (peer_pytorch_decode.py, same run):", "", "```", json.dumps({k: v for k, v in peer.items() if k.startswith("decode_step")}, indent=1)[:6000], "```"]
open(f"{out}/results.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
summarize() { WORK="$work" OUT="$OUT" TESTS_RC="$tests_rc" python3 "$work/summarize.py"; }

if [[ "$args" != *" --skip-peer-kernels "* ]]; then
    WORK="$work" timeout 150 python3 "$work/peer_kernels.py" >> "$OUT/run.log" 2>&1 || echo "peer_kernels.py failed or timed out" | tee -a "$OUT/run.log"
fi
summarize > /dev/null
if [[ "$args" != *" --skip-peer "* ]]; then
    (cd "$bundle/bench" && OUT="$work/peer" PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-240}" python3 peer_pytorch_decode.py) \
        >> "$OUT/run.log" 2>&1 || echo "peer_pytorch_decode.py failed or timed out" | tee -a "$OUT/run.log"
fi

# --- 4. one results file and one readable summary
summarize
exit $tests_rc
