#!/usr/bin/env bash
# One-step set-up: the system OpenGL/EGL libraries (Debian/Ubuntu, when missing), a .venv,
# and arfx installed in editable mode with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages="libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 xvfb xauth xdotool"
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for pkg in $apt_packages; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
  # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
  if [ ! -x .venv/bin/python ] && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
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

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
echo "arfx is installed in .venv (run: .venv/bin/arfx --help)"
