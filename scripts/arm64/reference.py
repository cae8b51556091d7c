"""Prints what this machine's TFLite runtime answers on the model's reference images.

Run inside an arm64 root by scripts/test_arm64.sh, and after an export on each runtime: for
the runtime's default kernels (what the appliance runs) and for its built-in kernels only,
the int8 outputs, the largest difference from ``reference.int8_outputs`` in the model's
contract, and whether the doctor's check would pass. ``--record`` also writes those largest
differences into the contract's ``reference.measured`` (replacing this runtime's and
machine's earlier entries), so that an export needs no hand-editing.
Exit 1 if the default kernels fail that check.

    python scripts/arm64/reference.py --model build/export/emotion.tflite --record
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from appliance.mood import runtime
from appliance.mood.classifier import DEFAULT_MODEL, Contract, quantize_crop, read_contract
from appliance.mood.reference import recorded_reference, reference_faces, reference_problem


def answers(model: Path, contract: Contract, exact: bool) -> np.ndarray:
    """int8 outputs on every reference face, with built-in kernels only when ``exact``."""
    interpreter = runtime.load_interpreter(model, 1, contract.sha256, exact=exact)
    detail_in = interpreter.get_input_details()[0]
    detail_out = interpreter.get_output_details()[0]
    out = []
    for face in reference_faces():
        interpreter.set_tensor(detail_in["index"],
                               quantize_crop(face, contract.input_range, detail_in))
        interpreter.invoke()
        out.append(interpreter.get_tensor(detail_out["index"])[0].copy())
    return np.array(out)


def record(path: Path, entries: list[dict[str, object]]) -> None:
    """Puts ``entries`` into the contract's ``reference.measured``, replacing the entries of
    the same runtime, machine and kernels, and keeping every other key as it was."""
    data = json.loads(path.read_text(encoding="utf-8"))
    measured = data["reference"].setdefault("measured", [])
    fresh = {(e["runtime"], e["machine"], e["kernels"]) for e in entries}
    measured[:] = [e for e in measured
                   if (e.get("runtime"), e.get("machine"), e.get("kernels")) not in fresh]
    measured.extend(entries)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                   help="the .tflite; its contract is the .json beside it")
    p.add_argument("--record", action="store_true",
                   help="write the largest differences into the contract's reference.measured")
    p.add_argument("--machine", default=platform.machine(),
                   help="how --record names this machine (say, 'aarch64 (Raspberry Pi 5)')")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    contract = args.model.with_suffix(".json")
    checked = read_contract(contract)  # the digest and input range, checked once
    recorded = recorded_reference(contract)
    if recorded is None:
        print(f"reference: {contract} records no reference.int8_outputs; export the model "
              "again with scripts/export_tflite.py", file=sys.stderr)
        return 1
    want, tolerance = recorded
    failed = False
    entries: list[dict[str, object]] = []
    for kernels, exact in (("default", False), ("built-in", True)):
        got = answers(args.model, checked, exact)
        problem, diff = reference_problem(got, want, tolerance)
        print(f"reference: {runtime.runtime_name()} on {args.machine}, {kernels} kernels:"
              f" max_steps {diff}, {problem or 'passes'}; outputs {got.tolist()}")
        failed = failed or (not exact and bool(problem))
        entries.append({"runtime": runtime.runtime_name(), "machine": args.machine,
                        "kernels": kernels, "max_steps": diff})
    if args.record:
        record(contract, entries)
        print(f"reference: recorded in {contract}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
