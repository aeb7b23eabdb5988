#!/usr/bin/env bash
# Builds the version 7 (tensor-core INT4 draft) harness: native-kernels/mma-harness/build7.sh [output-binary]
# Default output: <repo>/.mma7/mma7_harness (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.mma7/mma7_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/mma7_harness.cu" 2> "$(dirname "$out")/ptxas7.log" || { cat "$(dirname "$out")/ptxas7.log"; exit 1; }
grep -A2 "Compiling entry function 'qs_qattn7_" "$(dirname "$out")/ptxas7.log" | grep -E "entry|Used|spill" || true
echo "built $out"
