#!/usr/bin/env bash
# Builds the round-6 (nib4s decode) harness of version 7: native-kernels/mma-harness/build9.sh [output-binary]
# Default output: <repo>/.mma9/mma9_harness (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.mma9/mma9_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/mma9_harness.cu" 2> "$(dirname "$out")/ptxas9.log" || { cat "$(dirname "$out")/ptxas9.log"; exit 1; }
grep -A2 "Compiling entry function 'qs_qattn7_" "$(dirname "$out")/ptxas9.log" | grep -E "entry|Used|spill" || true
echo "built $out"
