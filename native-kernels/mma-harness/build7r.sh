#!/usr/bin/env bash
# Builds the round-6 harness against a PRIVATE header copy: <repo>/.mma7r/clean (the patch; default) or MMA7R_HDR=cuda
# (run 1-2: the register ring and the value decode as well):
#   native-kernels/mma-harness/build7r.sh [output-binary]   (default <repo>/.mma7r/mma7r_harness)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.mma7r/mma7r_harness}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo -Xptxas -v -I"$repo/.mma7r/${MMA7R_HDR:-clean}" \
    -o "$out" "$here/mma7r_harness.cu" 2> "$(dirname "$out")/ptxas7r.log" || { cat "$(dirname "$out")/ptxas7r.log"; exit 1; }
grep -A2 "Compiling entry function 'qs_qattn7_b4_h128" "$(dirname "$out")/ptxas7r.log" | grep -E "entry|Used|spill" | \
    sed -e "s/ptxas info    : Compiling entry function//" -e "s/ptxas info    : Function properties for//" | paste - - - || true
echo "built $out"
