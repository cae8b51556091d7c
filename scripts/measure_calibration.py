"""Temperature calibration of the emotion classifier, and the "unsure" gate it supports.

    .venv/bin/python scripts/measure_calibration.py --fer PATH/fer2013_train_publictest.npz
    .venv/bin/python scripts/measure_calibration.py --fer ... --model build/export/emotion.tflite

Runs the model (at temperature 1) on faces it was not trained on, the Validation split of
Training by default (``train.py``'s held-out part, so the fit never looks at the test data;
``--split PublicTest`` for a model that trained on all of Training, as ``c448963c`` did),
fits one temperature T by minimising the negative log-likelihood of the FER2013 labels
(a grid over log T, then a finer one), and reports the expected calibration error (ECE, 15
equal-width confidence bins) before and after. Then, for a range of ``min_confidence``
values, the share of faces the gate rejects and the accuracy on those it keeps, with T
applied. Prints the ``"temperature"`` value for the model's ``emotion.json``; ``--write`` puts
it there, with a note of how it was fitted (a new export has none).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from evaluate import VALIDATION, load_faces  # noqa: E402

from appliance.mood import runtime  # noqa: E402
from appliance.mood.classifier import EmotionClassifier, softmax  # noqa: E402

GATES = (0.0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def logits_of(classifier: EmotionClassifier, faces: np.ndarray) -> np.ndarray:
    """Dequantised logits (N, 7) of the classifier for grey 48x48 faces."""
    detail = classifier._output  # the output tensor's own scale and zero point
    return np.stack([runtime.dequantize(classifier.raw_output(f), detail) for f in faces])


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``labels`` at ``temperature``."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """T minimising the NLL: a coarse grid over log T, then a fine one around the best."""
    coarse = np.exp(np.linspace(np.log(0.2), np.log(5.0), 81))
    best = min(coarse, key=lambda t: nll(logits, labels, t))
    fine = np.linspace(best * 0.95, best * 1.05, 101)
    return float(min(fine, key=lambda t: nll(logits, labels, t)))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error over equal-width confidence bins."""
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - conf[inside].mean())
    return float(total)


def write_temperature(path: Path, temperature: float, note: str) -> None:
    """Sets ``temperature`` and its note in the contract at ``path``, after ``output``."""
    contract = json.loads(path.read_text(encoding="utf-8"))
    contract.pop("temperature", None)
    contract.pop("temperature_note", None)
    ordered: dict = {}
    for key, value in contract.items():
        ordered[key] = value
        if key == "output":
            ordered.update(temperature=round(temperature, 3), temperature_note=note)
    ordered.setdefault("temperature", round(temperature, 3))
    ordered.setdefault("temperature_note", note)
    path.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
    print(f"wrote temperature {temperature:.3f} to {path.name}")


def gate_table(before: np.ndarray, after: np.ndarray, labels: np.ndarray) -> str:
    """For each gate in GATES: faces rejected and accuracy on the rest (T applied), and the
    faces rejected at T = 1, as a Markdown table."""
    lines = ["| min_confidence | rejected | accuracy kept (T) | rejected (T=1) |",
             "|---|---|---|---|"]
    right = after.argmax(1) == labels
    for gate in GATES:
        keep = after.max(1) >= gate
        kept = f"{right[keep].mean():.1%}" if keep.any() else "-"  # the gate took them all
        lines.append(f"| {gate:.2f} | {1 - keep.mean():.1%} | {kept} | "
                     f"{1 - (before.max(1) >= gate).mean():.1%} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fer", type=Path, default=os.environ.get("MOODBOX_FER2013") or None,
                        required=not os.environ.get("MOODBOX_FER2013"),
                        help="fer2013_train_publictest.npz (or $MOODBOX_FER2013)")
    parser.add_argument("--split", default=VALIDATION, choices=[VALIDATION, "PublicTest"],
                        help="the faces to fit on: ones the model did not train on")
    parser.add_argument("--model", type=Path, default=None,
                        help="an emotion.tflite with its emotion.json beside it "
                             "(default: the shipped one)")
    parser.add_argument("--write", action="store_true",
                        help="write the fitted temperature into the model's emotion.json")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    split = load_faces(args.fer, args.split)
    labels = split.labels.astype(int)
    classifier = EmotionClassifier(args.model)
    logits = logits_of(classifier, split.images)
    temperature = fit_temperature(logits, labels)
    before, after = softmax(logits), softmax(logits / temperature)
    fit = (f"NLL {nll(logits, labels, 1.0):.4f} -> {nll(logits, labels, temperature):.4f}, "
           f"ECE {ece(before, labels):.4f} -> {ece(after, labels):.4f}")
    print(f"{len(labels)} {args.split} faces, {classifier.model_path.name}, "
          f"runtime {runtime.runtime_name()}, "
          f"contract temperature now {classifier.contract.temperature:g}")
    print(f"accuracy {np.mean(before.argmax(1) == labels):.4f} (T does not change it)")
    print(f"fitted temperature T = {temperature:.3f}")
    print(f"{fit} (ECE over 15 bins)")
    if args.write:
        note = (f"logits / temperature before the softmax; fitted on the {len(labels):,} "
                f"{args.split} faces by scripts/measure_calibration.py ({fit})")
        write_temperature(classifier.model_path.with_suffix(".json"), temperature, note)
    print("\n" + gate_table(before, after, labels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
