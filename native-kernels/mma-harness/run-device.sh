#!/usr/bin/env bash
# On the H200 (device tool), from the repository root, with .mma/ carried:
#   OUT=$OUT native-kernels/mma-harness/run-device.sh
# Runs the harness (tests + timing) and the PyTorch SDPA peer; everything lands in $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
here="$(cd "$(dirname "$0")" && pwd)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv | tee "$OUT/gpu.csv"
bin=.mma/mma_harness
if ! "$bin" --skip-tests --skip-bench > /dev/null 2>&1; then
    echo "the carried binary does not run here: rebuilding"
    "$here/build.sh" /tmp/mma/mma_harness > /dev/null && bin=/tmp/mma/mma_harness
fi
cp .mma/ptxas.log "$OUT/" 2> /dev/null
timeout "${HARNESS_TIMEOUT:-150}" "$bin" "$@" "$OUT/mma_bench.json" 2>&1 | tee "$OUT/harness.log"
rc=${PIPESTATUS[0]}
if [[ " $* " != *" --skip-bench "* ]]; then
    PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-70}" python3 "$here/peer_sdpa.py" "$OUT/peer_sdpa.json" 2>&1 \
        | grep -v Warning | tee "$OUT/peer.log"
fi
exit $rc
