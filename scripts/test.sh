#!/usr/bin/env bash
# Sets up the development environments and runs every check CI runs:
# ruff, mypy and the whole test suite in .venv (ai-edge-litert, numpy 2), then the tests that
# touch the TFLite runtime again in .venv-bookworm (tflite-runtime 2.14, numpy<2), then a
# smoke run of training + int8 export in .venv-train (TensorFlow).
# Extra arguments go to the first pytest run (e.g. -k library).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy appliance scripts
.venv/bin/python -m pytest -q "$@"

bash scripts/setup.sh --bookworm
.venv-bookworm/bin/python -m pytest -q -m runtime

bash scripts/setup.sh --train
.venv-train/bin/python -m pytest -q -m training
