#!/usr/bin/env bash
# Runs train.py recipes side by side on a lent GPU machine within a wall-clock budget, then
# packs each run's best model and logs into $OUT (see scripts/sweep_io.py).
#
# Here, once:  python scripts/sweep_io.py pack FER_NPZ .gpu   (.gpu/ is in .gitignore)
#              python -m pip download --only-binary=:all: --no-deps --python-version 3.12 \
#                --platform manylinux_2_28_x86_64 -d .gpu/whl keras==3.15.1 optree==0.20.0 namex==0.1.0
#              (the wheels the machine's Python 3.12 lacked on the lease of 2026-11-27)
# There:       BUDGET=430 bash scripts/gpu_sweep.sh RECIPES     (carry .gpu)
# RECIPES has a line per run: NAME|train.py arguments (on top of the common ones below);
# lines starting with # are comments (scripts/recipes.py reads and checks them all first).
# PACKED (default .gpu) is the packed faces' folder; PY, WORK, OUT, WHEELS and BACKENDS below.
set -uo pipefail
recipes=${1:?usage: gpu_sweep.sh RECIPES}
BUDGET=${BUDGET:-430}
PY=${PY:-python3}
WORK=${WORK:-/tmp/sweep}
RESULT=${OUT:-build/sweep}
mkdir -p "$WORK" "$RESULT"
# First, so that a wrong line stops the sweep before anything is installed or started.
"$PY" scripts/recipes.py "$recipes" > "$WORK/recipes.tsv" || exit 1
PACKED=${PACKED:-.gpu}
WHEELS=${WHEELS-$PACKED/whl}  # empty: use the Keras installed
if [ -n "$WHEELS" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$WHEELS"/*.whl \
    || exit 1
  export PYTHONPATH=$WORK/site
fi
"$PY" scripts/sweep_io.py unpack "$PACKED" "$WORK/fer.npz" || exit 1
# JAX would take 75% of the GPU's memory per process; the runs share one GPU.
export XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.08
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
backend=""
for b in ${BACKENDS:-jax torch}; do
  if KERAS_BACKEND=$b timeout 150 "$PY" scripts/sweep_io.py probe; then backend=$b; break; fi
done
[ -n "$backend" ] || { echo "gpu_sweep: Keras trains on none of: ${BACKENDS:-jax torch}"; exit 1; }
export KERAS_BACKEND=$backend
common=(--data "$WORK/fer.npz" --epochs 300 --patience 1000 --budget "$BUDGET")
while IFS=$'\t' read -r name extra; do
  # The budget covers the fit; the margin covers loading, compiling and the final scores.
  # shellcheck disable=SC2086  # extra is a list of arguments
  timeout $((BUDGET + 70)) "$PY" scripts/train.py "${common[@]}" --out "$WORK/$name" $extra \
    > "$WORK/$name.log" 2>&1 &
done < "$WORK/recipes.tsv"
wait
"$PY" scripts/sweep_io.py collect "$WORK" "$RESULT"
