#!/usr/bin/env bash
# Builds the self-contained bundle that scripts/gpu-run.sh runs on the H200 host (which has no Java,
# no Maven and no network) into the git-ignored folder .bundle/:
#   jdk.tar.xz          a jlink'd JDK 17 runtime (unpacked to /tmp on the host)
#   lib/*.jar           quantspec-core, native-kernels (with the fatbin), JavaCPP + CUDA presets,
#                       the JUnit console launcher and the test libraries
#   test-classes/       quantspec-core's compiled tests
#   bench/              the peer benchmarks from ../shared/bench (so every comparison is side by side)
#   shared/reference/   the Hugging Face reference outputs the GPU model test needs
# Usage: scripts/build-gpu-bundle.sh [--cuda-only]
#   --cuda-only  compile only dev.quantspec.cuda with javac (for when the rest of the tree does not
#                build yet); the fatbin still comes from the native-kernels Maven build.
# Then: run `scripts/gpu-run.sh` on the host with .bundle carried along.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.bundle"
m2="${M2_REPO:-$HOME/.m2/repository}"
cd "$root"

javacpp_version=1.5.13
cuda_version=13.1-9.19-1.5.13
junit_platform_version=1.14.1

rm -rf "$bundle/lib" "$bundle/test-classes" "$bundle/bench"
mkdir -p "$bundle/lib" "$bundle/test-classes" "$bundle/bench"

if [[ "${1:-}" == "--cuda-only" ]]; then
    mvn -q -o -pl native-kernels install
    mvn -q -o -pl quantspec-core dependency:build-classpath -Dmdep.includeScope=test \
        -Dmdep.outputFile="$bundle/classpath.txt"
    work="$(mktemp -d)"
    javac --release 17 -d "$work/main" -cp "$(cat "$bundle/classpath.txt")" \
        quantspec-core/src/main/java/dev/quantspec/QuantSpecException.java \
        quantspec-core/src/main/java/dev/quantspec/cuda/*.java
    javac --release 17 -d "$bundle/test-classes" -cp "$work/main:$(cat "$bundle/classpath.txt")" \
        quantspec-core/src/test/java/dev/quantspec/cuda/*.java
    jar --create --file "$bundle/lib/quantspec-core.jar" -C "$work/main" .
    rm -rf "$work"
else
    mvn -q -o -pl native-kernels,quantspec-core -am install -DskipTests
    mvn -q -o -pl quantspec-core dependency:build-classpath -Dmdep.includeScope=test \
        -Dmdep.outputFile="$bundle/classpath.txt"
    cp quantspec-core/target/quantspec-core-*.jar "$bundle/lib/quantspec-core.jar"
    cp -r quantspec-core/target/test-classes/. "$bundle/test-classes/"
fi

# The runtime class path of quantspec-core (the engine tests load whole models: tokenizer, Jinjava
# chat templates) minus what the bundle does not need: byte-buddy (9 MB, AssertJ's soft assertions
# only) and the JUnit jars that the console launcher already contains. picocli stays: the GPU runs
# measure real models through the CLI's `bench`.
tr ':' '\n' < "$bundle/classpath.txt" | grep -E '\.jar$' \
    | grep -vE '/(byte-buddy|junit-jupiter[a-z-]*|junit-platform-[a-z-]*|opentest4j|apiguardian-api)-[^/]*\.jar$' \
    | xargs -I{} cp {} "$bundle/lib/"
cp "$m2/org/junit/platform/junit-platform-console-standalone/$junit_platform_version/junit-platform-console-standalone-$junit_platform_version.jar" \
    "$bundle/lib/"
for jar in "javacpp/$javacpp_version/javacpp-$javacpp_version-linux-x86_64.jar" \
           "cuda/$cuda_version/cuda-$cuda_version-linux-x86_64.jar"; do
    [[ -f "$bundle/lib/$(basename "$jar")" ]] || cp "$m2/org/bytedeco/$jar" "$bundle/lib/"
done
# The CUDA presets' native jar carries JNI libraries for every CUDA library (NPP, cuFFT, cuSOLVER, ...);
# the backend loads only the runtime/driver and cuBLAS ones. Dropping the rest saves ~3.5 MB of the
# 64 MiB a device call may carry (room for qs-small beside the bundle).
cuda_native="$bundle/lib/cuda-$cuda_version-linux-x86_64.jar"
zip -q -d "$cuda_native" $(unzip -Z1 "$cuda_native" | grep -E '\.so$' | grep -vE '/libjni(cudart|cublas)\.so$') > /dev/null
unzip -l "$bundle/lib/native-kernels-"*.jar | grep quantspec.fatbin > /dev/null \
    || { echo "native-kernels jar has no quantspec.fatbin: nvcc missing here?" >&2; exit 1; }

shared_dir="${QUANTSPEC_SHARED:-$root/../shared}"  # the reference material beside the checkout
shared_bench="$shared_dir/bench"
[[ -d "$shared_bench" ]] && cp "$shared_bench"/*.py "$bundle/bench/"
# The reference outputs the GPU model test compares against (read through -Dquantspec.shared).
rm -rf "$bundle/shared" && mkdir -p "$bundle/shared/reference"
cp "$shared_dir/reference/qs-tiny-greedy.json" "$shared_dir/reference/heldout-docs.jsonl" "$bundle/shared/reference/"

# The JDK: java.base plus what JavaCPP (jdk.unsupported), the Vector API, JUnit's console launcher
# (java.logging, java.management), Jackson (java.sql, java.xml) and Jinjava (java.beans in
# java.desktop) need. jlink's own compression is off because xz packs the plain modules file far
# better (17 MB instead of 30); the AWT/imaging/sound native libraries, which nothing here loads,
# are dropped. Rebuilt when the module list changes.
modules=java.base,java.logging,java.management,java.xml,java.sql,java.naming,java.desktop,jdk.unsupported,jdk.incubator.vector,jdk.zipfs
if [[ ! -f "$bundle/jdk.tar.xz" || "$(cat "$bundle/jdk.modules" 2>/dev/null)" != "$modules" ]]; then
    work="$(mktemp -d)"
    jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --output "$work/jdk"
    rm -f "$work"/jdk/lib/lib{awt_xawt,splashscreen,fontmanager,javajpeg,lcms,mlib_image,jsound}.so
    tar -C "$work" -cf - jdk | xz -9 -T2 > "$bundle/jdk.tar.xz"
    echo "$modules" > "$bundle/jdk.modules"
    rm -rf "$work"
fi
du -sh "$bundle"/* | sed 's/^/  /'
echo "bundle: $(du -sh "$bundle" | cut -f1) in $bundle (limit 64 MiB with the working tree)"
