#!/usr/bin/env bash
# One-step set-up: the system OpenGL/EGL libraries (Debian/Ubuntu, when missing), a .venv,
# and arfx installed in editable mode with its test tools and exactly one ONNX Runtime build:
# the GPU build when nvidia-smi shows a GPU whose driver is new enough, else the CPU build.
# Safe to run again.
#
#   bash scripts/setup.sh               set up (or update) .venv
#   bash scripts/setup.sh --which-ort   only print which ONNX Runtime build this machine gets
#
#   ARFX_ORT=cpu|gpu|gpu-cuda12   force a build (default: auto)
#   ARFX_VENV=DIR                 the virtual environment to set up (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

# Sets $ort (the pyproject extra: cpu, gpu or gpu-cuda12) and $why.
# onnxruntime-gpu >= 1.27 is built for CUDA 13 (NVIDIA driver >= 580), 1.21-1.26 for CUDA 12
# (driver >= 525); both load NVIDIA's CUDA/cuDNN pip wheels, so no CUDA toolkit is needed.
choose_ort() {
  case "${ARFX_ORT:-auto}" in
    cpu|gpu|gpu-cuda12) ort="$ARFX_ORT"; why="forced by ARFX_ORT=$ARFX_ORT"; return ;;
    auto) ;;
    *) echo "ARFX_ORT=$ARFX_ORT is not a build; use auto, cpu, gpu or gpu-cuda12" >&2; exit 2 ;;
  esac
  ort=cpu
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    why="no nvidia-smi, so no NVIDIA driver"; return
  fi
  local out line name driver major
  if ! out=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1) || [ -z "$out" ]; then
    why="nvidia-smi finds no usable GPU: $(printf '%s\n' "$out" | head -n 1)"; return
  fi
  line=$(printf '%s\n' "$out" | head -n 1)
  name=${line%,*}
  driver=$(printf '%s' "${line##*,}" | tr -d ' ')
  major=${driver%%.*}
  if ! [[ "$major" =~ ^[0-9]+$ ]]; then
    why="cannot read a driver version in nvidia-smi's answer: $line"
  elif [ "$major" -ge 580 ]; then
    ort=gpu; why="$name, NVIDIA driver $driver (>= 580 runs the CUDA 13 build)"
  elif [ "$major" -ge 525 ]; then
    ort=gpu-cuda12; why="$name, NVIDIA driver $driver (525-579 runs the CUDA 12 build, not CUDA 13)"
  else
    why="$name has NVIDIA driver $driver; ONNX Runtime's CUDA builds need >= 525 (CUDA 12) or >= 580 (CUDA 13)"
  fi
}

choose_ort
if [ "${1:-}" = "--which-ort" ]; then
  echo "$ort: $why"
  exit 0
fi
venv="${ARFX_VENV:-.venv}"

apt_packages="libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 xvfb xauth xdotool"
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for pkg in $apt_packages; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
  if [ ! -x "$venv/bin/python" ] && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    missing="$missing python3-venv"
  fi
  if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "Installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip

# Exactly one ONNX Runtime build. Both builds install into the same onnxruntime/ folder, so
# when the other one is present (older installs had both) remove both, then install one.
if [ "$ort" = cpu ]; then want=onnxruntime other=onnxruntime-gpu; else want=onnxruntime-gpu other=onnxruntime; fi
has() { "$py" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" "$1" >/dev/null 2>&1; }
if has "$other"; then
  echo "Removing $other: $want is the build for this machine and two builds hide each other"
  remove="$other"
  if has "$want"; then remove="$remove $want"; fi
  "$py" -m pip uninstall -y -q $remove
fi
echo "ONNX Runtime: $want (arfx[$ort]): $why"
"$py" -m pip install -q -e ".[dev,$ort]"
echo "arfx is installed in $venv (run: $venv/bin/arfx --help; $venv/bin/arfx doctor checks it)"
