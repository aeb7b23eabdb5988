#!/usr/bin/env bash
# Builds the round-3 (in-pass) 4-bit GEMV harness: native-kernels/gemv-harness/build3.sh [output-binary]
# Default output: <repo>/.gemvh3/gemv_round3 (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvh3/gemv_round3}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/gemv_round3.cu" 2> "$(dirname "$out")/ptxas.log" || { cat "$(dirname "$out")/ptxas.log"; exit 1; }
echo "built $out"
