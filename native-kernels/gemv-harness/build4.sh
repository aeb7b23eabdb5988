#!/usr/bin/env bash
# Builds the round-4 4-bit GEMV harnesses: native-kernels/gemv-harness/build4.sh [output-folder]
#   gemv_round4  (run 1: split-K, prefetch and block shapes for o / down)
#   gemv_round4b (run 2: prefetch variants of all four draft GEMVs, the shipped entries, the chain)
# Default output folder: <repo>/.gemvh4 (ignored, carried to the device machine). One nvcc at a time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvh4}"
mkdir -p "$out"
for h in ${R4_ONLY:-gemv_round4 gemv_round4b}; do
    nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v \
        -o "$out/$h" "$here/$h.cu" 2> "$out/$h.ptxas.log" || { cat "$out/$h.ptxas.log"; exit 1; }
    echo "built $out/$h"
done
