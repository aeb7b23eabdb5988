#!/usr/bin/env bash
# Round 5 of version 7 (TMA ring) on the H200 (device tool), from the repository root, with .mma8/ carried:
#   OUT=$OUT [PEER=1] [NO_TESTS=1] [MMA7_LIST=..] [SASS_FUNS="k1 k2"] [NCU="graph1:host1 graph2:host2"] \
#       native-kernels/mma-harness/run-device8-round5.sh
# tests + timing at the engine's split (MHA 2 waves, GQA 1 wave; host and graph entries) (+ the SDPA peer); logs go
# into $OUT/r5.tar.xz, a summary to stdout.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/r5
here="$(cd "$(dirname "$0")" && pwd)"
export PATH=/usr/local/cuda/bin:$PATH
R=/tmp/r5
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $R/gpu.csv
bin=.mma8/mma8_harness
cp .mma8/ptxas8.log $R/ 2> /dev/null
if [[ -z "${NO_TESTS:-}" ]]; then
    timeout "${TESTS_TIMEOUT:-50}" "$bin" --skip-bench > $R/tests.log 2>&1
    echo "tests rc $?"; grep -E "TESTS|FAIL" $R/tests.log | head -20
fi
MMA7_ENGINE_SPLIT=1 timeout "${BENCH_TIMEOUT:-70}" "$bin" --skip-tests $R/mma8_bench.json > $R/bench.log 2>&1
echo "bench rc $?"
grep -E " us " $R/bench.log | awk '{printf "%s %s %s %s%s %s\n", $1, $3, $4, $5, ($6=="graph"?"g":""), ($6=="graph"?$11:$10)}' | sed 's/qs_qattn7_b4_h128_//'
if [[ -n "${PEER:-}" ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-40}" python3 "$here/peer_sdpa.py" $R/peer_sdpa1.json 1 2>&1 | grep -v Warning | tee $R/peer.log | grep -iE "cudnn|llama" | head -20
fi
if [[ -n "${SASS_FUNS:-}" ]]; then
    python3 "$here/sass_hist7.py" "$bin" $SASS_FUNS > $R/sass_hist.txt 2>&1; cut -c1-420 $R/sass_hist.txt
fi
# SASS of one kernel (SASS_DUMP=<function>): the whole listing into the tarball
if [[ -n "${SASS_DUMP:-}" ]]; then
    cuobjdump -sass -fun "$SASS_DUMP" "$bin" > $R/sass-$SASS_DUMP.txt 2>&1; grep -c UBLKCP $R/sass-$SASS_DUMP.txt
fi
# ncu (SOL, warp states, instructions) of graph entries at 128K, one-wave split: "graphEntry:hostEntry" pairs
for pair in ${NCU:-}; do
    g="${pair%%:*}"; h="${pair##*:}"
    MMA7_ONLY="$h" MMA7_CTX=131072 timeout 40 ncu --clock-control none --cache-control none -k "$g" --launch-skip 3 \
        --launch-count 1 --section SpeedOfLight --section WarpStateStats --section InstructionStats \
        --section SchedulerStats --section MemoryWorkloadAnalysis --section Occupancy \
        "$bin" --skip-tests $R/ncu_bench.json > $R/ncu-$g.txt 2>&1
    echo "== ncu $g"; grep -E "Duration|DRAM Throughput|Executed Ipc A|Issue Slots Busy|Warp Cycles Per Issued|Executed Instructions  |Registers|Eligible Warps|No Eligible|Stall Long|Achieved Occ" $R/ncu-$g.txt | head -14
done
tar -C /tmp -cJf "$OUT/r5.tar.xz" r5
