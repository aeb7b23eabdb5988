#!/usr/bin/env bash
# Round 3 of version 7 on the H200 (device tool), from the repository root, with .mma7/ carried:
#   OUT=$OUT [PEER=1] [NCU=<graph entry> NCU_ONLY=<its host entry's name>] native-kernels/mma-harness/run-device7-round3.sh
# tests + timing (+ the SDPA peer, + ncu of one graph entry at 128K, wave split) + SASS opcode histograms of the
# hot loops; the logs go into $OUT/r3.tar.xz (the device tool returns few files), a summary to stdout.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/r3
here="$(cd "$(dirname "$0")" && pwd)"
export PATH=/usr/local/cuda/bin:$PATH
R=/tmp/r3
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $R/gpu.csv
bin=.mma7/mma7_harness
cp .mma7/ptxas7.log $R/ 2> /dev/null
timeout "${TESTS_TIMEOUT:-75}" "$bin" --skip-bench > $R/tests.log 2>&1
echo "tests rc $?"; grep -E "TESTS|FAIL" $R/tests.log | head -20
timeout "${BENCH_TIMEOUT:-75}" "$bin" --skip-tests $R/mma7_bench.json > $R/bench.log 2>&1
echo "bench rc $?"
grep -E " us " $R/bench.log | grep -v " graph " | awk '{printf "%s %s %s %s %s %s\n", $1, $3, $4, $5, $10, $13}' | sed 's/qs_qattn7_b4_h128_//'
python3 "$here/sass_hist7.py" "$bin" ${SASS_FUNS:-} > $R/sass_hist.txt 2>&1; cut -c1-400 $R/sass_hist.txt
if [[ -n "${NCU:-}" ]]; then
    MMA7_ONLY="$NCU_ONLY" MMA7_CTX=131072 timeout 120 ncu --clock-control none --cache-control none \
        -k "$NCU" --launch-skip 3 --launch-count 1 --set full --import-source no -o $R/ncu "$bin" --skip-tests $R/ncu_bench.json > $R/ncu_run.log 2>&1
    ncu -i $R/ncu.ncu-rep --page details > $R/ncu-details.txt 2>&1
    ncu -i $R/ncu.ncu-rep --page source --csv --print-source sass > $R/ncu-sass.csv 2>&1
    grep -E "Duration|DRAM Throughput|Executed Ipc A|Issue Slots|Warp Cycles Per Issued|Executed Instructions  |Registers|Eligible Warps|No Eligible" $R/ncu-details.txt
    rm -f $R/ncu.ncu-rep
fi
if [[ -n "${PEER:-}" ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-55}" python3 "$here/peer_sdpa.py" $R/peer_sdpa1.json 1 2>&1 | grep -v Warning | tee $R/peer.log
fi
tar -C /tmp -cJf "$OUT/r3.tar.xz" r3
