#!/usr/bin/env bash
# Builds the tensor-core GEMV chain harness: native-kernels/gemv-harness/build-verify-chain2.sh [output-binary]
# Default output: <repo>/.gemvv2/verify_chain2 (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvv2/verify_chain2}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/verify_chain2.cu" 2> "$(dirname "$out")/ptxas.log" || { cat "$(dirname "$out")/ptxas.log"; exit 1; }
grep -B1 -A2 -E "Compiling entry.*_Z(2tc|3tc8)" "$(dirname "$out")/ptxas.log" | grep -E "Compiling|Used|spill" | head -80
echo "built $out"
