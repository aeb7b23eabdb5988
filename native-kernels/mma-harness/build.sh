#!/usr/bin/env bash
# Builds the version 6 (tensor-core INT8 verify) harness: native-kernels/mma-harness/build.sh [output-binary]
# Default output: <repo>/.mma/mma_harness (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.mma/mma_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/mma_harness.cu" 2> "$(dirname "$out")/ptxas.log" || { cat "$(dirname "$out")/ptxas.log"; exit 1; }
grep -A2 "Compiling entry function 'qs_qattn6" "$(dirname "$out")/ptxas.log" | grep -E "entry|Used|spill" || true
echo "built $out"
