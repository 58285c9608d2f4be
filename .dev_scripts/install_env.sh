#!/usr/bin/env bash
# Create or refresh the development environment `.venv/` with the pinned, checked set
# (docs/en/get_started.md): torch 2.12.1 + torchvision 0.27.1, mmcv 2.1.0 compiled from source
# against that torch (with ops), mmengine 0.10.7, mmsegmentation 1.2.2, mmpretrain 1.2.0,
# transformers 4.51.3, then mmrrsis in editable mode.
#
# Re-running it when nothing changed only checks the imports (seconds). The compiled mmcv wheel
# is cached per Python and torch version in $MMRRSIS_CACHE_DIR (default ~/.cache/mmrrsis), because
# pip's own wheel cache ignores the torch version a wheel was built against.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.12.1}
TORCHVISION_VERSION=${TORCHVISION_VERSION:-0.27.1}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
CACHE_DIR=${MMRRSIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmrrsis}

log() { printf '[install] %s\n' "$*"; }
t0=$(date +%s)

stamp_inputs() {
  cat .dev_scripts/install_env.sh requirements/*.txt setup.py 2>/dev/null
  echo "$TORCH_VERSION $TORCHVISION_VERSION $MMCV_VERSION"
}
STAMP="$VENV/.mmrrsis-install-stamp"
want_stamp=$(stamp_inputs | sha256sum | cut -d' ' -f1)

check_imports() {
  "$VENV/bin/python" - <<'PY'
import mmcv.ops  # noqa: F401  (compiled ops)
import mmseg.models  # noqa: F401
import mmrrsis  # noqa: F401
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && check_imports 2>/dev/null; then
  log "environment $VENV is up to date ($(( $(date +%s) - t0 )) s)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
pyver=$("$PY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')

"${PIP[@]}" install -q -U "pip>=24" "setuptools<82" wheel ninja

# 1. torch + torchvision (the default builds of the package index; they run on CPU-only machines).
have_torch=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
have_tv=$("$PY" -c 'import torchvision; print(torchvision.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION" ] || [ "$have_tv" != "$TORCHVISION_VERSION" ]; then
  log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  "${PIP[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

# 2. mmcv compiled against exactly this torch; the local wheel cache is keyed by python+torch.
WHEEL_DIR="$CACHE_DIR/wheels/$pyver-torch$TORCH_VERSION"
mmcv_ok() { "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; }
if ! mmcv_ok; then
  whl=$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [ -n "$whl" ]; then
    log "installing cached $whl"
    "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps "$whl"
    "${PIP[@]}" install --no-cache-dir "$whl"
    if ! mmcv_ok; then
      log "cached mmcv wheel does not load with this torch; removing it and rebuilding"
      rm -f "$whl"
      whl=""
    fi
  fi
  if [ -z "$whl" ]; then
    log "building mmcv==$MMCV_VERSION with ops against torch $TORCH_VERSION (about 10 min on 2 cores)"
    tmp=$(mktemp -d)
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} FORCE_CUDA=0 \
      "${PIP[@]}" wheel --no-build-isolation --no-deps --no-cache-dir -w "$tmp" "mmcv==$MMCV_VERSION"
    mkdir -p "$WHEEL_DIR"
    mv "$tmp"/mmcv-*.whl "$WHEEL_DIR"/
    rm -rf "$tmp"
    whl=$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -1)
    "${PIP[@]}" install --no-cache-dir --force-reinstall --no-deps "$whl"
    "${PIP[@]}" install --no-cache-dir "$whl"
    mmcv_ok || { log "ERROR: mmcv.ops does not import after the build"; exit 1; }
  fi
fi

# 3. the OpenMMLab stack, transformers and test tools (pinned).
log "installing requirements/pinned.txt"
"${PIP[@]}" install -q -r requirements/pinned.txt "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

# 4. mmrrsis itself, editable (setup.py links tools/ and configs/ into mmrrsis/.mim).
log "installing mmrrsis (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .

# An in-tree mmrrsis.egg-info lets `PYTHONPATH=$(pwd) mim train mmrrsis CFG` find tools/ and
# configs/ (PEP 660 editable installs keep their metadata in site-packages only).
"$PY" setup.py -q egg_info >/dev/null 2>&1 || log "note: setup.py egg_info failed (only mim needs it)"

check_imports
echo "$want_stamp" > "$STAMP"
log "done in $(( $(date +%s) - t0 )) s"
