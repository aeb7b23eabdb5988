#!/usr/bin/env bash
# Version 6 lean loop on the H200 (device tool), from the repository root, with .mma/
# carried (.mma/mma_harness = this tree, .mma/mma_harness_base = the committed code before the change):
#   OUT=$OUT [V6_ONLY=..] [SKIP_TESTS=1] native-kernels/mma-harness/run-device6-lean.sh
# v6 tests + timing (engine split, host and graph entries) against the base binary in the same call, SASS opcode
# histograms of the hot loops, PyTorch SDPA (5 queries); everything into $OUT/lean.tar.xz. (Its version 7 part ran the
# retired mma7 harness; see git history before the seventh session's clean-up.)
set -uo pipefail
OUT="${OUT:-/tmp/out}"
R=/tmp/lean
mkdir -p "$OUT" $R
here="$(cd "$(dirname "$0")" && pwd)"
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader | tee $R/gpu.csv
bin=.mma/mma_harness
cp .mma/ptxas.log $R/ 2> /dev/null
if [[ -z "${SKIP_TESTS:-}" ]]; then
    timeout "${TESTS_TIMEOUT:-60}" "$bin" --skip-bench > $R/tests.log 2>&1
    echo "v6 tests rc $?"; grep -E "TESTS|FAIL|NOTE" $R/tests.log | head -20
fi
V6_ONLY="${V6_ONLY:-t2_f0_b3,t2_m,p4_q5_t1}"
MMA6_SPLIT=wave MMA6_ONLY="$V6_ONLY" timeout "${BENCH_TIMEOUT:-45}" "$bin" --skip-tests $R/bench.json > $R/bench.log 2>&1
echo "v6 bench rc $?"
MMA6_SPLIT=wave MMA6_ONLY="${BASE_ONLY:-t2_f0_b3,p4_q5_t1_f0_b2}" timeout "${BASE_TIMEOUT:-20}" .mma/mma_harness_base --skip-tests $R/base.json > $R/base.log 2>&1
echo "base bench rc $?"
for f in bench base; do grep -E " us " $R/$f.log | awk -v f=$f '{printf "%s %s %s %s %s %s %s\n", f, $1, $3, $4, ($6=="graph"?"g":"h"), $(NF-6), $(NF-2)}' | sed 's/qs_qattn6_b8_h128_//'; done
python3 "$here/sass_hist7.py" "$bin" ${SASS_FUNS:-qs_qattn6g_b8_h128_g1_p1_t2_f0_b3 qs_qattn6g_b8_h128_g1_p1_t2_m16_b3 qs_qattn6g_b8_h128_g1_p1_t2_m19_b3 qs_qattn6g_b8_h128_g4_p4_t1_f0_b2 qs_qattn6g_b8_h128_g4_p4_t1_m16_b2 qs_qattn6g_b8_h128_g4_p4_t1_m48_b3} > $R/sass_hist.txt 2>&1
cut -c1-330 $R/sass_hist.txt
if [[ -z "${SKIP_PEER:-}" ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-50}" python3 "$here/peer_sdpa.py" $R/peer_sdpa5.json 5 2>&1 | grep -v Warning > $R/peer.log
    cat $R/peer.log | cut -c1-200
fi
tar -C /tmp -cJf "$OUT/lean.tar.xz" lean
