"""Prints what this machine's TFLite runtime answers on the model's reference images.

Run inside an arm64 root by scripts/test_arm64.sh: for the runtime's default kernels (what the
appliance runs) and for its built-in kernels only, the int8 outputs, the largest difference
from ``reference.int8_outputs`` in emotion.json, and whether the doctor's check would pass.
Exit 1 if the default kernels fail that check.
"""

from __future__ import annotations

import json
import platform
import sys

import numpy as np

from appliance.mood import runtime
from appliance.mood.classifier import DEFAULT_MODEL, quantize_crop, read_contract
from appliance.mood.reference import reference_faces, reference_problem


def answers(exact: bool) -> np.ndarray:
    """int8 outputs on every reference face, with built-in kernels only when ``exact``."""
    contract = read_contract(DEFAULT_MODEL.with_suffix(".json"))
    interpreter = runtime.load_interpreter(DEFAULT_MODEL, 1, contract.sha256, exact=exact)
    detail_in = interpreter.get_input_details()[0]
    detail_out = interpreter.get_output_details()[0]
    out = []
    for face in reference_faces():
        interpreter.set_tensor(detail_in["index"],
                               quantize_crop(face, contract.input_range, detail_in))
        interpreter.invoke()
        out.append(interpreter.get_tensor(detail_out["index"])[0].copy())
    return np.array(out)


def main() -> int:
    reference = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["reference"]
    want = np.array(reference["int8_outputs"])
    tolerance = int(reference["tolerance_steps"])
    failed = False
    for kernels, exact in (("default", False), ("built-in", True)):
        got = answers(exact)
        problem, diff = reference_problem(got, want, tolerance)
        print(f"reference: {runtime.runtime_name()} on {platform.machine()}, {kernels} kernels:"
              f" max_steps {diff}, {problem or 'passes'}; outputs {got.tolist()}")
        failed = failed or (not exact and bool(problem))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
