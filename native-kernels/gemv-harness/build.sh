#!/usr/bin/env bash
# Builds the GEMV tuning harness: native-kernels/gemv-harness/build.sh [output-binary]
# Default output: <repo>/.gemvh/gemv_harness (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvh/gemv_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/gemv_harness.cu" 2> "$(dirname "$out")/ptxas.log" || { cat "$(dirname "$out")/ptxas.log"; exit 1; }
echo "built $out"
