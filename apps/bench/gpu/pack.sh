#!/usr/bin/env bash
# Packs the GPU kit (apps/bench/gpu/README.md) into <repo>/.gpukit (git-ignored):
#   bin.tar.xz.part-NN  node (this machine's Node 20 linux-x64 binary), onnxruntime-node 1.29.0's linux
#                       x64 binding + JS, onnxruntime-common 1.29.0, and the ORT 1.29.0 CUDA-13
#                       provider (com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9); xz, split in pieces
#   app.tar.xz          sr1's code the host runs: check.mjs bundled by esbuild (@sr1/* inlined,
#                       onnxruntime-node external), torch_gpu.py, merge.py, peers/torch_train_step.py
#   SHA256SUMS          of every file above and of the whole bin.tar.xz
#   manifest.json       what is in the kit, and the carry paths of each device call, in order
# Needs: the repo built (npm run build), npm with registry access (first run only: the downloads are
# cached in .gpukit/cache), xz, sha256sum. Env: PIECE_MIB (default 40), XZ_LEVEL (default 6).
set -euo pipefail

REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
KIT="$REPO/.gpukit"
CACHE="$KIT/cache"
PIECE_MIB=${PIECE_MIB:-40}
XZ_LEVEL=${XZ_LEVEL:-6}
ORT_VERSION=1.29.0
PROVIDER_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
mkdir -p "$CACHE"

# ---- 1. downloads (cached) ---------------------------------------------------------------------------
fetch() { # npm spec, tarball name
  if [ ! -s "$CACHE/$2" ]; then
    echo "npm pack $1"
    (cd "$CACHE" && npm pack --silent "$1" >/dev/null)
  fi
}
fetch "onnxruntime-node@$ORT_VERSION" "onnxruntime-node-$ORT_VERSION.tgz"
fetch "onnxruntime-common@$ORT_VERSION" "onnxruntime-common-$ORT_VERSION.tgz"
fetch "$PROVIDER_PKG" "com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz"

NODE_BIN=$(command -v node)
NODE_VERSION=$("$NODE_BIN" --version)
case "$NODE_VERSION" in v20.*) ;; *) echo "pack.sh: node is $NODE_VERSION; the kit ships Node 20" >&2; exit 1 ;; esac
[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: the kit's node must be linux x64" >&2; exit 1; }
# The binary may need only glibc and libstdc++/libgcc (present on any glibc x86-64 host).
extra=$(ldd "$NODE_BIN" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so)' || true)
if [ -n "$extra" ]; then echo "pack.sh: $NODE_BIN needs more than glibc/libstdc++: $extra" >&2; exit 1; fi
GLIBC_MAX=$(objdump -T "$NODE_BIN" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || echo unknown)

# ---- 2. the binaries archive (rebuilt only when its inputs change) ----------------------------------
STAGE="$KIT/stage-bin"
inputs_hash=$( (sha256sum "$NODE_BIN" "$CACHE"/*.tgz | awk '{print $1}'; echo "$XZ_LEVEL") | sha256sum | cut -c1-16)
if [ ! -s "$CACHE/bin-$inputs_hash.tar.xz" ]; then
  rm -rf "$STAGE" && mkdir -p "$STAGE/bin" "$STAGE/tmp"
  cp "$NODE_BIN" "$STAGE/bin/node"
  ORTDIR="$STAGE/node_modules/onnxruntime-node"
  BIN="bin/napi-v6/linux/x64"
  tar -xzf "$CACHE/onnxruntime-node-$ORT_VERSION.tgz" -C "$STAGE/tmp" package/package.json package/dist "package/$BIN"
  mkdir -p "$ORTDIR" && mv "$STAGE/tmp/package/package.json" "$STAGE/tmp/package/dist" "$ORTDIR/"
  mkdir -p "$ORTDIR/$BIN" && mv "$STAGE/tmp/package/$BIN"/* "$ORTDIR/$BIN/"
  rm -rf "$STAGE/tmp" && mkdir -p "$STAGE/tmp"
  tar -xzf "$CACHE/onnxruntime-common-$ORT_VERSION.tgz" -C "$STAGE/tmp" package/package.json package/dist
  mkdir -p "$STAGE/node_modules/onnxruntime-common" && mv "$STAGE/tmp/package"/* "$STAGE/node_modules/onnxruntime-common/"
  rm -rf "$STAGE/tmp" && mkdir -p "$STAGE/tmp"
  P=package/Plugins/Linux/x64
  tar -xzf "$CACHE/com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz" -C "$STAGE/tmp" \
    "$P/libonnxruntime_providers_cuda.so" "$P/libonnxruntime_providers_shared.so"
  mv "$STAGE/tmp/$P"/*.so "$ORTDIR/$BIN/"
  rm -rf "$STAGE/tmp"
  # the onnxruntime-node install script is not run: nothing is fetched on the host
  echo "compressing the binaries (xz -$XZ_LEVEL -T2; a few minutes on 2 cores)"
  tar -cf - -C "$STAGE" . | xz -"$XZ_LEVEL" -T2 > "$CACHE/bin-$inputs_hash.tar.xz.tmp"
  mv "$CACHE/bin-$inputs_hash.tar.xz.tmp" "$CACHE/bin-$inputs_hash.tar.xz"
  du -sb "$STAGE"/bin/node "$ORTDIR/$BIN"/* "$STAGE/node_modules/onnxruntime-common" > "$CACHE/bin-$inputs_hash.sizes"
  rm -rf "$STAGE"
fi

# ---- 3. sr1's code: one esbuild bundle + the Python peers --------------------------------------------
APP="$KIT/stage-app/app"
rm -rf "$KIT/stage-app" && mkdir -p "$APP/gpu" "$APP/peers"
"$REPO/node_modules/.bin/esbuild" "$REPO/apps/bench/gpu/check.mjs" --bundle --platform=node --format=esm \
  --target=node20 --external:onnxruntime-node --outfile="$APP/gpu/check.mjs" --log-level=warning \
  --banner:js="import { createRequire as __sr1CreateRequire } from 'node:module'; globalThis.require ??= __sr1CreateRequire(import.meta.url);"
cp "$REPO/apps/bench/gpu/torch_gpu.py" "$REPO/apps/bench/gpu/merge.py" "$APP/gpu/"
cp "$REPO/apps/bench/peers/torch_train_step.py" "$APP/peers/"
mkdir -p "$APP/schema" # @sr1/graph reads onnx.proto3 at run time, from ../schema beside the bundle
cp "$REPO/packages/graph/schema/onnx.proto3" "$REPO/packages/graph/schema/LICENSE" "$APP/schema/"
git -C "$REPO" rev-parse HEAD > "$APP/COMMIT"
git -C "$REPO" status --porcelain -- apps packages > "$APP/DIRTY" || true

# ---- 4. the kit folder --------------------------------------------------------------------------------
rm -f "$KIT"/bin.tar.xz.part-* "$KIT/app.tar.xz" "$KIT/SHA256SUMS" "$KIT/manifest.json"
tar -cJf "$KIT/app.tar.xz" -C "$KIT/stage-app" app
rm -rf "$KIT/stage-app"
split -b "${PIECE_MIB}M" -d -a 2 "$CACHE/bin-$inputs_hash.tar.xz" "$KIT/bin.tar.xz.part-"
(cd "$KIT" && sha256sum bin.tar.xz.part-* app.tar.xz > SHA256SUMS &&
  echo "$(sha256sum < "$CACHE/bin-$inputs_hash.tar.xz" | cut -d' ' -f1)  bin.tar.xz" >> SHA256SUMS)

pieces=("$KIT"/bin.tar.xz.part-*)
n=${#pieces[@]}
{
  echo '{'
  echo "  \"node\": \"$NODE_VERSION\", \"nodeGlibcMax\": \"$GLIBC_MAX\","
  echo "  \"onnxruntimeNode\": \"$ORT_VERSION\", \"cudaProvider\": \"$PROVIDER_PKG (ORT $ORT_VERSION, CUDA 13, cuDNN 9)\","
  echo "  \"commit\": \"$(git -C "$REPO" rev-parse HEAD)\","
  echo "  \"binPieces\": $n, \"binBytes\": $(stat -c %s "$CACHE/bin-$inputs_hash.tar.xz"), \"appBytes\": $(stat -c %s "$KIT/app.tar.xz"),"
  echo '  "calls": ['
  for i in "${!pieces[@]}"; do
    p=".gpukit/$(basename "${pieces[$i]}")"
    if [ "$i" -lt $((n - 1)) ]; then
      echo "    {\"carry\": [\"$p\"], \"command\": \"bash apps/bench/gpu/run.sh --receive\"},"
    else
      echo "    {\"carry\": [\"$p\", \".gpukit/app.tar.xz\", \".gpukit/SHA256SUMS\", \".gpukit/manifest.json\"], \"command\": \"bash apps/bench/gpu/run.sh\"}"
    fi
  done
  echo '  ]'
  echo '}'
} > "$KIT/manifest.json"

echo "kit: $KIT"
echo "uncompressed sizes (bytes):"; sed "s|$STAGE/||" "$CACHE/bin-$inputs_hash.sizes"
ls -l "$KIT" | grep -v cache
echo "pieces: $n bin piece(s) of <= $PIECE_MIB MiB + app.tar.xz + SHA256SUMS + manifest.json"
echo "device calls, in order (each: run(carry=[...], command=...)):"
for i in "${!pieces[@]}"; do
  p=".gpukit/$(basename "${pieces[$i]}")"
  if [ "$i" -lt $((n - 1)) ]; then
    echo "  call $((i + 1)): carry [$p]  command: bash apps/bench/gpu/run.sh --receive"
  else
    echo "  call $((i + 1)): carry [$p, .gpukit/app.tar.xz, .gpukit/SHA256SUMS, .gpukit/manifest.json]  command: bash apps/bench/gpu/run.sh"
  fi
done
