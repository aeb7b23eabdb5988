#!/usr/bin/env bash
# Builds the round-5 (TMA ring) harness of version 7: native-kernels/mma-harness/build8.sh [output-binary]
# Default output: <repo>/.mma8/mma8_harness (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.mma8/mma8_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/mma8_harness.cu" 2> "$(dirname "$out")/ptxas8.log" || { cat "$(dirname "$out")/ptxas8.log"; exit 1; }
grep -A2 "Compiling entry function 'qs_qattn7_" "$(dirname "$out")/ptxas8.log" | grep -E "entry|Used|spill" || true
echo "built $out"
