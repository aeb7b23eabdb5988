#!/usr/bin/env bash
# Round 6 of version 7 (nib4s decode: MODE bits 1 << 19 keys, 1 << 20 values) on the H200 (device tool), from the
# repository root, with .mma9/ carried:
#   OUT=$OUT [PEER=1] [NO_TESTS=1] [MMA7_LIST=..] [BENCH_PASSES=n] [SASS_FUNS="k1 k2"] [SASS_UNIT=..] [SASS_DUMP=..] \
#       native-kernels/mma-harness/run-device9.sh
# tests (double reference, per-kernel worst errors, long runs, batch invariance) + timing at the engine's split (MHA
# 2 waves, GQA 1 wave; host and graph entries) (+ the cuDNN SDPA peer); logs into $OUT/r6.tar.xz, a summary to stdout.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/r6
here="$(cd "$(dirname "$0")" && pwd)"
export PATH=/usr/local/cuda/bin:$PATH
R=/tmp/r6
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $R/gpu.csv
bin=.mma9/mma9_harness
cp .mma9/ptxas9.log $R/ 2> /dev/null
if [[ -n "${SASS_FUNS:-}" ]]; then
    python3 "$here/sass_hist7.py" "$bin" $SASS_FUNS > $R/sass_hist.txt 2>&1; cut -c1-330 $R/sass_hist.txt
fi
# SASS_UNIT="k1 k2": per-unit counts of the quantized unit loop (sass_unit9.py)
if [[ -n "${SASS_UNIT:-}" ]]; then
    python3 "$here/sass_unit9.py" "$bin" $SASS_UNIT > $R/sass_unit.txt 2>&1; cut -c1-400 $R/sass_unit.txt
fi
for f in ${SASS_DUMP:-}; do cuobjdump -sass -fun "$f" "$bin" > $R/sass-$f.txt 2>&1; done
if [[ -z "${NO_TESTS:-}" ]]; then
    timeout "${TESTS_TIMEOUT:-50}" "$bin" --skip-bench > $R/tests.log 2>&1
    echo "tests rc $?"; grep -E "TESTS|FAIL|WORST" $R/tests.log | head -40
fi
# BENCH_PASSES=n: the timing n times in a row (same binary, same call: the spread of f0 against itself)
for pass in $(seq 1 "${BENCH_PASSES:-1}"); do
    MMA7_ENGINE_SPLIT=1 timeout "${BENCH_TIMEOUT:-70}" "$bin" --skip-tests $R/mma9_bench$pass.json > $R/bench$pass.log 2>&1
    echo "bench pass $pass rc $?"
done
# one line per (model, ctx, kernel, entry): the passes' us side by side
cat $R/bench[0-9]*.log | grep -E " us " | awk '{k=$1" "$3" "$4" "($6=="graph"?"g":"h"); v=($6=="graph"?$11:$10); if(!(k in m)){o[++n]=k; m[k]=v} else m[k]=m[k]" "v} END{for(i=1;i<=n;i++) print o[i], m[o[i]]}' | sed 's/qs_qattn7_b4_h128_//; s/_q1_t2_/ /; s/z1_b4//; s/_b4//'
if [[ -n "${PEER:-}" ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-40}" python3 "$here/peer_sdpa.py" $R/peer_sdpa1.json 1 2>&1 | grep -v Warning | tee $R/peer.log | grep -iE "cudnn|llama" | head -20
fi
tar -C /tmp -cJf "$OUT/r6.tar.xz" r6
