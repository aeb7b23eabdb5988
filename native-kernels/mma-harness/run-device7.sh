#!/usr/bin/env bash
# On the H200 (device tool), from the repository root, with .mma7/ carried:
#   OUT=$OUT native-kernels/mma-harness/run-device7.sh
# Runs the version 7 harness (tests + timing) and the 1-query PyTorch SDPA peer; everything lands in $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
here="$(cd "$(dirname "$0")" && pwd)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv | tee "$OUT/gpu.csv"
bin=.mma7/mma7_harness
if ! "$bin" --skip-tests --skip-bench > /dev/null 2>&1; then
    echo "the carried binary does not run here: rebuilding"
    "$here/build7.sh" /tmp/mma7/mma7_harness > /dev/null && bin=/tmp/mma7/mma7_harness
fi
cp .mma7/ptxas7.log "$OUT/" 2> /dev/null
# tests and timing in two processes, so that a fault in one leaves the other's results
timeout "${TESTS_TIMEOUT:-45}" "$bin" --skip-bench > "$OUT/tests.log" 2>&1
rc=$?
grep -E "TESTS|FAIL|device" "$OUT/tests.log" | head -40
echo "tests rc $rc"
if [[ " $* " != *" --skip-bench "* ]]; then
    timeout "${BENCH_TIMEOUT:-45}" "$bin" --skip-tests "$OUT/mma7_bench.json" > "$OUT/bench.log" 2>&1
    echo "bench rc $?"
    grep -E "regs|us " "$OUT/bench.log" | grep -E "regs|wave|java" | awk 'NR<=40 || /262144/' | head -120

    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-55}" python3 "$here/peer_sdpa.py" "$OUT/peer_sdpa1.json" 1 2>&1 \
        | grep -v Warning | tee "$OUT/peer.log"
fi
exit $rc
