#!/usr/bin/env bash
# The GPU kit's one script on the host (apps/bench/gpu/README.md): reassembles and verifies the kit
# that pack.sh wrote to <repo>/.gpukit, unpacks it to /tmp, prints the machine, points
# LD_LIBRARY_PATH at the CUDA 13 / cuDNN 9 libraries of the torch venv's nvidia/* packages, runs the
# checks each under its own time limit, and writes results.json + run.log to $OUT.
#
# Usage: bash apps/bench/gpu/run.sh [--cpu] [--kit DIR] [--out DIR] [--parts "env parity ..."]
#                                   [--config qwen2.5-0.5b|qwen2.5-3b] [--budget-s S]
#   --cpu     the dry run: CPU execution provider and tiny sizes (also chosen when no GPU answers)
#   --receive a transfer call: list the pieces that arrived (sizes, sha256 prefixes) and exit
#   --kit     the kit folder (default <repo>/.gpukit); --out the results folder (default $OUT)
#   --parts   a subset of: env parity train-step torch-speed engine-speed (default all, in that order)
#   --budget-s the whole script's target wall time (default 450 s): the last part gets what is left
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
KIT="$REPO/.gpukit"
OUTDIR="${OUT:-$REPO/gpu-results}"
MODE=auto
PARTS="env parity train-step torch-speed engine-speed"
CONFIG=qwen2.5-0.5b
BUDGET_S=450
WORK="${SR1_GPUKIT_WORK:-/tmp/sr1-gpukit}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) MODE=cpu ;;
    --receive) MODE=receive ;;
    --kit) KIT=$(cd "$2" && pwd); shift ;;
    --out) OUTDIR="$2"; shift ;;
    --parts) PARTS="$2"; shift ;;
    --config) CONFIG="$2"; shift ;;
    --budget-s) BUDGET_S="$2"; shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
START=$(date +%s)
mkdir -p "$OUTDIR" "$WORK"
OUTDIR=$(cd "$OUTDIR" && pwd)
PARTS_DIR="$WORK/parts"
rm -rf "$PARTS_DIR" && mkdir -p "$PARTS_DIR"
exec > >(tee -a "$OUTDIR/run.log") 2>&1
echo "== sr1 GPU kit: run.sh $(date -u +%FT%TZ), kit $KIT, work $WORK, out $OUTDIR"

fail() {
  echo "run.sh: FAILED: $*"
  printf '{"error": %s}\n' "$(printf '%s' "$*" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')" > "$OUTDIR/results.json"
  exit 1
}

# A Python with torch: the host's venv, else python3 on PATH (SR1_TORCH_PYTHON overrides).
PY="${SR1_TORCH_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then PY=/opt/torch/.venv/bin/python3; else PY=$(command -v python3 || true); fi
fi

untar_xz() { # archive, destination folder
  if command -v xz >/dev/null; then xz -dc -T0 "$1" | tar -x -C "$2"
  else "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"; fi
}

# ---- 1. reassemble, verify, unpack -------------------------------------------------------------------
if [ "$MODE" = receive ]; then # a transfer call: check the pieces that arrived so far, run nothing
  echo "pieces in $KIT:"
  for f in "$KIT"/bin.tar.xz.part-*; do
    [ -f "$f" ] && echo "  $(basename "$f") $(stat -c %s "$f") B sha256 $(sha256sum < "$f" | cut -c1-16)"
  done
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  exit 0
fi
[ -f "$KIT/SHA256SUMS" ] || fail "no $KIT/SHA256SUMS: carry .gpukit/SHA256SUMS (see apps/bench/gpu/README.md)"
BIN_SHA=$(awk '$2 == "bin.tar.xz" { print $1 }' "$KIT/SHA256SUMS")
if [ -f "$WORK/.bin-sha" ] && [ "$(cat "$WORK/.bin-sha")" = "$BIN_SHA" ] && [ -x "$WORK/bin/node" ]; then
  echo "binaries already unpacked in $WORK (sha256 $BIN_SHA)"
else
  missing=""
  for piece in $(awk '$2 ~ /^bin\.tar\.xz\.part-/ { print $2 }' "$KIT/SHA256SUMS"); do
    [ -f "$KIT/$piece" ] || missing="$missing $piece"
  done
  [ -z "$missing" ] || fail "pieces missing from $KIT:$missing (each earlier call must carry its piece while the machine stays warm)"
  (cd "$KIT" && grep ' bin\.tar\.xz\.part-' SHA256SUMS | sha256sum -c --quiet -) || fail "a piece's sha256 does not match"
  rm -rf "$WORK/bin" "$WORK/node_modules"
  cat $(awk '$2 ~ /^bin\.tar\.xz\.part-/ { print "'"$KIT"'/" $2 }' "$KIT/SHA256SUMS" | sort) > "$WORK/bin.tar.xz"
  echo "$BIN_SHA  $WORK/bin.tar.xz" | sha256sum -c --quiet - || fail "the reassembled bin.tar.xz's sha256 does not match"
  untar_xz "$WORK/bin.tar.xz" "$WORK" || fail "unpacking bin.tar.xz failed"
  rm -f "$WORK/bin.tar.xz"
  echo "$BIN_SHA" > "$WORK/.bin-sha"
  echo "binaries verified and unpacked to $WORK"
fi
(cd "$KIT" && grep ' app\.tar\.xz$' SHA256SUMS | sha256sum -c --quiet -) || fail "app.tar.xz missing or its sha256 does not match"
rm -rf "$WORK/app" && untar_xz "$KIT/app.tar.xz" "$WORK" || fail "unpacking app.tar.xz failed"
NODE="$WORK/bin/node"
APP="$WORK/app/gpu"
ORT_BIN="$WORK/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
echo "app commit $(cat "$WORK/app/COMMIT")$( [ -s "$WORK/app/DIRTY" ] && echo ' (with uncommitted changes)')"

# ---- 2. the machine ----------------------------------------------------------------------------------
DEVICE=cpu
SIZES=tiny
if [ "$MODE" != cpu ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then DEVICE=cuda; SIZES=full
  else echo "no GPU answers nvidia-smi: the CPU dry run"; fi
fi
echo "== device $DEVICE, sizes $SIZES"
command -v nvidia-smi >/dev/null && nvidia-smi || echo "(no nvidia-smi)"
echo "node: $("$NODE" --version)"
echo "python: $PY $("$PY" --version 2>&1)"
"$PY" - <<'EOF' || echo "(python packages: see above)"
import importlib
for name in ['torch', 'onnx', 'onnxruntime', 'safetensors', 'numpy']:
    try:
        m = importlib.import_module(name)
        print(f'{name} {getattr(m, "__version__", "?")}')
    except Exception as e:
        print(f'{name}: not importable ({e})')
try:
    import torch
    print('torch cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'cudnn', torch.backends.cudnn.version())
except Exception:
    pass
EOF

# CUDA 13 / cuDNN 9 for the ORT provider: every folder holding lib*.so* under the venv's nvidia/*.
NV_DIRS=$("$PY" - <<'EOF' 2>/dev/null
import os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = set()
for root in roots:
    for d, _, files in os.walk(root):
        if any(f.startswith('lib') and '.so' in f for f in files):
            dirs.add(d)
print(':'.join(sorted(dirs)))
EOF
)
[ -n "$NV_DIRS" ] && export LD_LIBRARY_PATH="$NV_DIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
PROVIDER_LDD=""
if [ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]; then
  PROVIDER_LDD=$(ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" 2>&1 | grep -E 'not found|cublas|cudart|curand|cudnn|libcuda\.' || true)
  echo "the CUDA provider's libraries:"; echo "$PROVIDER_LDD" | sed 's/^/  /'
fi
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
"$PY" - "$WORK/env.json" <<EOF
import json, sys, subprocess, platform
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return str(e)
env = {
  'device': '$DEVICE', 'sizes': '$SIZES', 'mode': '$MODE', 'gpu': '''$GPU_NAME''' or None,
  'nvidia_smi': sh('nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader'),
  'node': sh('"$NODE" --version'), 'python': platform.python_version(), 'python_path': '$PY',
  'torch': sh('"$PY" -c "import torch; print(torch.__version__, torch.version.cuda)"'),
  'onnxruntime_python': sh('"$PY" -c "import onnxruntime; print(onnxruntime.__version__)"'),
  'ld_library_path': '''${LD_LIBRARY_PATH:-}''', 'provider_ldd': '''$PROVIDER_LDD''',
  'cpu': sh('nproc') + ' cores, ' + sh('uname -m'), 'app_commit': open('$WORK/app/COMMIT').read().strip(),
  'started': '$(date -u +%FT%TZ)',
}
json.dump(env, open(sys.argv[1], 'w'), indent=1)
EOF

# ---- 3. the checks, each under a time limit ----------------------------------------------------------
declare -A LIMIT=([env]=60 [parity]=90 [train-step]=120 [torch-speed]=120 [engine-speed]=240)
run_part() { # name, command...
  local name=$1; shift
  local left=$((BUDGET_S - ($(date +%s) - START) - 15))
  local limit=${LIMIT[$name]}
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 5 ]; then
    echo "{\"skipped\": \"the script's ${BUDGET_S} s budget was spent before this part\"}" > "$PARTS_DIR/$name.json"
    return
  fi
  echo "== part $name (limit ${limit} s)"
  local t0=$(date +%s)
  timeout -k 10 "$limit" "$@"
  local rc=$?
  local note=""
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note=" (cut off at its ${limit} s limit; its JSON holds what it measured before)"
  echo "rc=$rc after $(($(date +%s) - t0)) s$note" > "$PARTS_DIR/$name.status"
  echo "== part $name: rc=$rc after $(($(date +%s) - t0)) s$note"
}
export SR1_TORCH_PYTHON="$PY"
# The speed parts' precision (both sides): bfloat16 on CUDA, float16 where the engine's bfloat16
# did not run in the parity part, float32 in the CPU dry run (ORT's CPU provider has no bf16 MatMul).
PREC=float32
[ "$DEVICE" = cuda ] && PREC=bfloat16
for part in $PARTS; do
  case "$part" in
    torch-speed)
      tconfig=$CONFIG; [ "$SIZES" = tiny ] && tconfig=tiny
      run_part torch-speed "$PY" "$APP/torch_gpu.py" bench --config "$tconfig" --sizes "$SIZES" --device "$DEVICE" \
        --dtype "$PREC" --budget-s 100 --out "$PARTS_DIR/torch-speed.json" ;;
    engine-speed)
      run_part engine-speed "$NODE" "$APP/check.mjs" engine-speed --device "$DEVICE" --sizes "$SIZES" --config "$CONFIG" \
        --precision "$PREC" --out "$PARTS_DIR/engine-speed.json" ;;
    env | parity | train-step)
      run_part "$part" "$NODE" "$APP/check.mjs" "$part" --device "$DEVICE" --sizes "$SIZES" --config "$CONFIG" \
        --python "$PY" --out "$PARTS_DIR/$part.json" ;;
    *) echo "unknown part $part" ;;
  esac
  if [ "$part" = parity ] && [ "$PREC" = bfloat16 ] && [ -f "$PARTS_DIR/parity.json" ] &&
    ! "$PY" -c 'import json, sys; sys.exit(0 if "maxAbsDiff" in (json.load(open(sys.argv[1])).get("bfloat16") or {}) else 1)' "$PARTS_DIR/parity.json"; then
    PREC=float16
    echo "== the engine's bfloat16 did not run in the parity part (see parity.bfloat16): the speed parts use float16"
  fi
done
echo "{\"speedPrecision\": \"$PREC\"}" > "$PARTS_DIR/precision.json"

# ---- 4. results ----------------------------------------------------------------------------------------
"$PY" "$APP/merge.py" "$PARTS_DIR" "$WORK/env.json" "$OUTDIR/results.json" || {
  echo "merge.py failed; copying the raw parts"
  cat "$WORK/env.json" "$PARTS_DIR"/*.json > "$OUTDIR/results.json"
}
echo "== done in $(($(date +%s) - START)) s: $OUTDIR/results.json, $OUTDIR/run.log"
