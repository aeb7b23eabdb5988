#!/usr/bin/env bash
# Round 6 of version 7 (register ring, private headers) on the H200 (device tool), from the repository root, with
# .mma7r/ carried:  OUT=$OUT [ORDER=bench-first] [PEER=1] [MMA7_LIST=..] [MMA7R_LIST=..] native-kernels/mma-harness/run-device7r.sh
# timing (engine split, host + graph entries) + tests (+ the SDPA peer); logs into $OUT/r7r.tar.xz, a summary to stdout.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
R=/tmp/r7r
mkdir -p "$OUT" $R
here="$(cd "$(dirname "$0")" && pwd)"
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $R/gpu.csv
bin=.mma7r/mma7r_harness
cp .mma7r/ptxas7r.log $R/ 2> /dev/null
bench() {
    MMA7_ENGINE_SPLIT=1 timeout "${BENCH_TIMEOUT:-75}" "$bin" --skip-tests $R/mma7r_bench.json > $R/bench.log 2>&1
    echo "bench rc $?"
    grep -E " us " $R/bench.log | awk '{printf "%s %s %s %s %s %s %s\n", $1, $3, $4, $5, $6, ($6=="graph")?$11:$10, ($6=="graph")?$14:$13}' | sed 's/qs_qattn7_b4_h128_//'
}
tests() {
    timeout "${TESTS_TIMEOUT:-60}" "$bin" --skip-bench > $R/tests.log 2>&1
    echo "tests rc $?"; grep -E "TESTS|FAIL" $R/tests.log | head -20; tail -2 $R/tests.log | cut -c1-300
}
peer() {
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-55}" python3 "$here/peer_sdpa.py" $R/peer_sdpa.json 1 2>&1 | grep -v Warning | tee $R/peer.log
}
# STEPS (default "bench tests", PEER=1 adds peer): e.g. "bench tests peer bench" (a second bench pass: bench2.log);
# the logs are packed after every step
n=0
for step in ${STEPS:-bench tests ${PEER:+peer}}; do
    if [[ $step == bench ]]; then
        n=$((n + 1))
        [[ $n -gt 1 ]] && { mv $R/bench.log $R/bench1.log; mv $R/mma7r_bench.json $R/mma7r_bench1.json; }
    fi
    $step
    tar -C /tmp -cJf "$OUT/r7r.tar.xz" r7r
done
