#!/usr/bin/env bash
# Compiles src/main/cuda/quantspec.cu into one fatbin (sm_80, sm_86, sm_89, sm_90 machine code plus
# compute_90 PTX for newer GPUs) and writes it where the jar picks it up as a resource.
# Called by Maven (exec-maven-plugin) with: <cuda source dir> <output fatbin path>.
# Without nvcc it says what it skipped and succeeds: the jar then has no kernels, and the Java
# side reports "the CUDA kernels were not built (nvcc missing at build time)" when CUDA is asked for.
set -euo pipefail
src_dir="$1"
out="$2"
nvcc_bin="${NVCC:-nvcc}"

if ! command -v "$nvcc_bin" >/dev/null 2>&1; then
    echo "[native-kernels] SKIPPED: nvcc not found (set NVCC or put CUDA's bin on PATH);"
    echo "[native-kernels]          the jar carries no CUDA kernels and backend=cuda will fail with a clear message."
    rm -f "$out" "$(dirname "$out")/prior-grid-waiters.txt"
    exit 0
fi

# The kernels whose Hopper PTX waits for the previous grid (they call qs_wait_prior_grid(), common.cuh):
# CudaContext launches exactly these with programmatic dependent launch (ProgrammaticLaunch.java), so the
# list is derived from the code instead of being kept by hand beside it.
waiters="$(dirname "$out")/prior-grid-waiters.txt"

# Rebuild only when a source is newer than the fatbin (Maven runs this on every build).
if [[ -f "$out" && -f "$waiters" ]] && [[ -z "$(find "$src_dir" -newer "$out" -type f)" ]]; then
    echo "[native-kernels] $out is up to date"
    exit 0
fi

mkdir -p "$(dirname "$out")"
start=$(date +%s)
keep="$(mktemp -d)"
trap 'rm -rf "$keep"' EXIT
# -O3 host/device optimisation; no --use_fast_math: RoPE needs accurate sincosf at 128K positions
# and the tests compare against exact scalar references. --threads 0 compiles the archs in parallel.
"$nvcc_bin" -std=c++17 -O3 --fatbin --threads 0 \
    -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_86,code=sm_86 \
    -gencode arch=compute_89,code=sm_89 \
    -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 \
    --keep --keep-dir "$keep" -o "$out.tmp" "$src_dir/quantspec.cu"
ptx="$keep/quantspec.compute_90.ptx"
[[ -f "$ptx" ]] || { echo "[native-kernels] no compute_90 PTX in $keep: cannot list the prior-grid waiters"; exit 1; }
# an entry's name is on its ".entry" line; device functions (".func") reset it, so a wait inside one is never
# credited to the entry before it
awk '/^\.(visible |weak )?\.entry /{name=$3; sub(/\(.*/, "", name)} /^\.(visible |weak )?\.func /{name=""}
     /griddepcontrol\.wait/{if (name != "") print name}' "$ptx" | sort -u > "$waiters.tmp"
mv "$out.tmp" "$out"
mv "$waiters.tmp" "$waiters"
echo "[native-kernels] built $out ($(stat -c %s "$out") bytes) with $("$nvcc_bin" --version | tail -1) in $(( $(date +%s) - start )) s;" \
    "$(wc -l < "$waiters") kernels wait for the previous grid"
