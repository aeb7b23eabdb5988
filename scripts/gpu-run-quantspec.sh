#!/usr/bin/env bash
# QuantSpec on the H200 host (issue 5), from the bundle that scripts/build-gpu-bundle.sh made
# (.bundle/, carried with the working tree). Writes into $OUT:
#   tests.log             JUnit console output of the dev.quantspec.cuda package (GPU and CPU tests)
#   quantspec-bench.json  CudaQuantSpecBenchmark: draft / verify / autoregressive ms at 7B shapes, memory, speedup
#   bench-<model>.md      the CLI `bench` on real models: autoregressive vs QuantSpec on the GPU, tokens/s, acceptance
#                         (--sampled: also T 0.7, top-p 0.9, rounds sampled on the device and on the host)
#   hf-<model>.json       the Hugging Face generate() peer on the same model and prompt text
#   quantspec-gamma-sweep.json  with --gamma-sweep: greedy rounds of γ 2..8 at 7B shapes
#   quantspec-profile.txt with --profile: GPU time of every kernel of the AR step, draft step and verification
#   anchors2.json         with --peer: the PyTorch peer (peer_pytorch_decode.py) run in the same call
#   decode.json           with --decode: CudaDecodeBenchmark (autoregressive steps at 7B shapes, fraction of 4262 GB/s)
# Usage (repository root): OUT=/some/dir scripts/gpu-run-quantspec.sh [--skip-tests] [--skip-7b] [--skip-models] [--peer] [--decode] [--gamma-sweep] [--profile] [--sampled]
#   [--models "qs-tiny qs-small"] (model folders under models/ or .qsmall/)
#   TEST_SELECT="--select-class dev.quantspec.cuda.X ..." narrows the tests (default: the whole package)
#   QS_JOPTS="-D..." adds JVM options (e.g. -Dquantspec.cuda.programmaticLaunch=false)
#   Everything written is also packed into $OUT/results.tar.xz; only KEEP_LOOSE files stay loose beside it
#   (the device tool returns at most 8 files). Send the script's own output elsewhere than $OUT (the device tool
#   returns the output's tail anyway): a log in $OUT that is still open would be archived half-written.
set -uo pipefail
args=" $* "
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.bundle"
OUT="${OUT:-/tmp/out}"
work=/tmp/qs-quantspec
mkdir -p "$OUT" "$work"
cd "$root"
[[ -f "$bundle/jdk.tar.xz" ]] || { echo "no bundle at $bundle (build it with scripts/build-gpu-bundle.sh and carry .bundle)"; exit 3; }
# qs-small travels xz-packed in .qsmall/ (it does not fit one call beside the bundle: carry .qsmall in a
# second call while the machine still holds the first call's .bundle)
if [[ -f "$root/.qsmall/qs-small.tar.xz" && ! -d "$root/.qsmall/qs-small" ]]; then
    tar -xJf "$root/.qsmall/qs-small.tar.xz" -C "$root/.qsmall"
fi
if [[ ! -x "$work/jdk/bin/java" ]]; then
    tar -xJf "$bundle/jdk.tar.xz" -C "$work" || { echo "cannot unpack $bundle/jdk.tar.xz"; exit 1; }
fi
java="$work/jdk/bin/java"
export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cp="$(ls "$bundle"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
jopts=(--add-modules=jdk.incubator.vector -Xss4m -Dorg.bytedeco.javacpp.cachedir="$work/javacpp-cache"
       -Dquantspec.shared="$bundle/shared" ${QS_JOPTS:-})
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw \
    --format=csv | tee "$OUT/gpu.csv"

if [[ "$args" != *" --skip-tests "* ]]; then
    timeout "${TEST_TIMEOUT:-300}" "$java" "${jopts[@]}" -jar "$bundle"/lib/junit-platform-console-standalone-*.jar \
        execute --class-path "$cp$bundle/test-classes" ${TEST_SELECT:---select-package dev.quantspec.cuda} \
        --details=tree --disable-banner --disable-ansi-colors > "$OUT/tests.log" 2>&1
    echo "tests exit code $?"
    grep -E "✘|tests (successful|failed)|GPU QuantSpec|GPU hierarchical|GPU vs CPU" "$OUT/tests.log" | head -40
fi

if [[ "$args" == *" --profile "* ]]; then
    timeout "${PROFILE_TIMEOUT:-150}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaQuantSpecBenchmark \
        --profile "$OUT/quantspec-profile.txt" > "$OUT/profile.log" 2>&1
    echo "profile exit code $?"
    grep "^## " "$OUT/quantspec-profile.txt"
fi

if [[ "$args" == *" --decode "* ]]; then
    timeout "${DECODE_TIMEOUT:-200}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaDecodeBenchmark \
        "$OUT/decode.json" "$root/models/qs-tiny" > "$OUT/decode.log" 2>&1
    echo "decode exit code $?"
    grep -E "fraction|tokens" "$OUT/decode.log" | tail -10
fi

if [[ "$args" != *" --skip-7b "* ]]; then
    timeout "${BENCH_TIMEOUT:-240}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaQuantSpecBenchmark \
        "$OUT/quantspec-bench.json" 2>&1 | tail -20
fi

if [[ "$args" == *" --gamma-sweep "* ]]; then
    timeout "${BENCH_TIMEOUT:-240}" "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cuda.CudaQuantSpecBenchmark \
        --gamma-sweep "$OUT/quantspec-gamma-sweep.json" 2>&1 | tail -30
fi

if [[ "$args" != *" --skip-models "* ]]; then
    models="qs-tiny"
    [[ "$args" =~ --models\ \"?([a-z -]+) ]] && models="${BASH_REMATCH[1]}"
    for model in $models; do
        dir="$root/models/$model"; [[ -d "$dir" ]] || dir="$root/.qsmall/$model"
        [[ -d "$dir" ]] || { echo "no model folder for $model"; continue; }
        text="$work/heldout-$model.txt"
        python3 -c "import json,sys; print(''.join(json.loads(l)['text'] for l in open(sys.argv[1])))" \
            "$bundle/shared/reference/heldout-docs.jsonl" > "$text"
        maxpos=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['max_position_embeddings'])" "$dir/config.json")
        prompts="1000"; (( maxpos >= 3300 )) && prompts="1000 3000"
        for prompt in $prompts; do
            timeout 200 "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cli.QuantSpecCli bench --model "$dir" \
                --backend cuda --decoder autoregressive,quantspec --prompt-tokens "$prompt" --new-tokens 256 \
                --repeat 3 --warmup 1 --text "$text" --record --record-file "$OUT/bench-$model.md" 2>&1 | tail -8
            timeout 200 "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cli.QuantSpecCli bench --model "$dir" \
                --backend cuda --decoder autoregressive --kv-cache hierarchical --prompt-tokens "$prompt" \
                --new-tokens 256 --repeat 3 --warmup 1 --text "$text" --record --record-file "$OUT/bench-$model.md" 2>&1 | tail -4
        done
        if [[ "$args" == *" --sampled "* ]]; then  # sampled decoding: rounds sampled on the device, then on the host
            sampling=(--temperature 0.7 --top-p 0.9 --seed 1 --prompt-tokens 1000 --new-tokens 256 --repeat 3 --warmup 1)
            timeout 200 "$java" "${jopts[@]}" -cp "$cp" dev.quantspec.cli.QuantSpecCli bench --model "$dir" \
                --backend cuda --decoder autoregressive,quantspec "${sampling[@]}" --text "$text" --record \
                --record-file "$OUT/bench-$model.md" 2>&1 | tail -4
            printf '\nThe next run samples QuantSpec rounds on the host (-Dquantspec.cuda.hostSampling=true):\n' \
                >> "$OUT/bench-$model.md"
            timeout 200 "$java" "${jopts[@]}" -Dquantspec.cuda.hostSampling=true -cp "$cp" dev.quantspec.cli.QuantSpecCli \
                bench --model "$dir" --backend cuda --decoder quantspec "${sampling[@]}" --text "$text" --record \
                --record-file "$OUT/bench-$model.md" 2>&1 | tail -3
        fi
        (PYTHONUNBUFFERED=1 timeout 200 python3 "$root/scripts/peer_hf_generate.py" "$dir" \
            "$bundle/shared/reference/heldout-docs.jsonl" $prompts 2>&1 | grep -v Warning | tail -5)
    done
fi
# The PyTorch peer's whole 7B decode step (cuBLAS + cuDNN SDPA in a CUDA graph) in the same call
if [[ "$args" == *" --peer "* && -f "$bundle/bench/peer_pytorch_decode.py" ]]; then
    (cd "$bundle/bench" && OUT="$OUT" PYTHONUNBUFFERED=1 timeout "${PEER_TIMEOUT:-240}" python3 peer_pytorch_decode.py \
        > "$OUT/peer-decode.log" 2>&1; echo "peer exit $?"; grep -E "^[a-zA-Z_0-9.-]+ [0-9]+ [{]" "$OUT/peer-decode.log" | tail -14)
fi

# The device tool brings back at most 8 files from $OUT: pack everything into one archive and leave loose only
# the few files a reader opens first (KEEP_LOOSE), so a call with many options loses nothing.
(cd "$OUT" && find . -maxdepth 2 -type f ! -name results.tar.xz | sort > /tmp/qs-results.list \
    && tar -cJf results.tar.xz -T /tmp/qs-results.list \
    && for f in $(cat /tmp/qs-results.list); do
           case " ${KEEP_LOOSE:-gpu.csv tests.log quantspec-bench.json decode.json quantspec-profile.txt anchors2.json} " in
               *" ${f#./} "*) ;;
               *) rm -f "$f" ;;
           esac
       done)
ls -la "$OUT"
