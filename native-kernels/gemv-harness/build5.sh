#!/usr/bin/env bash
# Builds the round-5 harnesses (L2 prefetch chain): native-kernels/gemv-harness/build5.sh [output-folder]
#   gemv_round5   the 32-layer draft chain with prefetch plans (run 1)
#   gemv_round5b  per GEMV alone: cold / weights loaded into L2 / bulk-prefetched (run 2)
# Default output folder: <repo>/.gemvh5 (ignored, carried to the device machine). Headers: a copy of the engine's
# native-kernels/src/main/cuda in <out>/cuda with q4gemv.cuh patched by patch_l2pf.py (harness-only prefetch hooks).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvh5}"
mkdir -p "$out/cuda"
cp "$here"/../src/main/cuda/*.cuh "$out/cuda/"
python3 "$here/patch_l2pf.py" "$here/../src/main/cuda/q4gemv.cuh" "$out/cuda/q4gemv.cuh"
for h in ${R5_ONLY:-gemv_round5 gemv_round5b}; do
    nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v -I "$out/cuda" \
        -o "$out/$h" "$here/$h.cu" 2> "$out/$h.ptxas.log" || { cat "$out/$h.ptxas.log"; exit 1; }
    echo "built $out/$h"
done
