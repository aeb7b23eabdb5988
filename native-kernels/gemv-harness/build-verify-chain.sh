#!/usr/bin/env bash
# Builds the verification-GEMV chain harness: native-kernels/gemv-harness/build-verify-chain.sh [output-binary]
# Default output: <repo>/.gemvv/verify_chain (an ignored folder, carried to the device machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.gemvv/verify_chain}"
mkdir -p "$(dirname "$out")"
nvcc -gencode=arch=compute_90,code=sm_90 -std=c++17 -O3 -lineinfo -Xptxas -v \
    -o "$out" "$here/verify_chain.cu" 2> "$(dirname "$out")/ptxas.log" || { cat "$(dirname "$out")/ptxas.log"; exit 1; }
grep -A1 "Compiling entry" "$(dirname "$out")/ptxas.log" | grep -E "Used" | sort | uniq -c | head -20
echo "built $out"
