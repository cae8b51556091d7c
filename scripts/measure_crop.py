"""Measures how FER2013 frames its faces, and how well camera-style crops match it.

    .venv/bin/python scripts/measure_crop.py geometry --data FER.npz [--write]
    .venv/bin/python scripts/measure_crop.py accuracy --data FER.npz [--model models/emotion.tflite]

``geometry`` runs the face detector on FER2013 Training faces (upscaled 6x with cubic
interpolation into a grey 640x480 frame, so that the detector sees a face of camera size) and
prints where the box and eyes sit in the 48x48 frame, with the crop that reproduces it:
side = scale * box side, centre shifted by shift_y * box height. ``--write`` stores them in
the ``"crop"`` object of ``models/emotion.json``.

``accuracy`` classifies PublicTest faces three ways: the 48x48 face as stored, and the same
face put into a 640x480 frame (upscaled, rotated by up to +-20 degrees, at a random place),
found by the detector and cut out again with the contract's crop, with and without eye
alignment. It prints the accuracy and log loss of each and how often the detector found
the face.

FER2013 images are read from the npz only; nothing is written but the crop numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.mood.classifier import DEFAULT_MODEL, EmotionClassifier  # noqa: E402
from appliance.mood.crop import DETECTOR, crop_face  # noqa: E402
from appliance.mood.faces import Face, FaceDetector  # noqa: E402

FRAME_H, FRAME_W = 480, 640


def load(npz: Path, usage: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces and labels of one split (0 Training, 1 PublicTest)."""
    with np.load(npz) as data:
        keep = data["usage"] == usage
        return data["images"][keep], data["labels"][keep].astype(int)


def place(face: np.ndarray, side: int, angle: float, centre: tuple[int, int]) -> np.ndarray:
    """A grey 640x480 BGR frame with the 48x48 face scaled to ``side`` px and rotated."""
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    matrix[:, 2] = matrix[:, 2] + (centre[0] - side / 2, centre[1] - side / 2)
    frame = cv2.warpAffine(big, matrix, (FRAME_W, FRAME_H), borderValue=128)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def nearest(faces: list[Face], centre: tuple[float, float]) -> Face | None:
    """The detected face whose box centre is nearest ``centre``."""
    if not faces:
        return None
    return min(faces, key=lambda f: abs(f.box[0] + f.box[2] / 2 - centre[0])
               + abs(f.box[1] + f.box[3] / 2 - centre[1]))


def geometry(args: argparse.Namespace) -> None:
    """Prints (and optionally writes) the crop that matches FER2013's framing."""
    images, _ = load(args.data, 0)
    rows = np.random.default_rng(0).choice(len(images), args.faces, replace=False)
    detector = FaceDetector(min_score=0.5)
    side, found = 48 * 6, []
    centre = (FRAME_W // 2, FRAME_H // 2)
    for i in rows:
        face = nearest(detector.detect(place(images[i], side, 0.0, centre)), centre)
        if face is None:
            continue
        unit = 48 / side  # frame pixels to 48x48 pixels
        x, y, w, h = face.box
        (lx, ly), (rx, ry) = face.eyes
        found.append([w * unit, (x + w / 2 - centre[0]) * unit + 24,
                      (y + h / 2 - centre[1]) * unit + 24, (lx - centre[0]) * unit + 24,
                      (ly - centre[1]) * unit + 24, (rx - centre[0]) * unit + 24,
                      (ry - centre[1]) * unit + 24, np.degrees(np.arctan2(ry - ly, rx - lx))])
    m = np.array(found)
    med, q1, q3 = np.median(m, axis=0), *np.percentile(m, [25, 75], axis=0)
    print(f"detected {len(m)}/{len(rows)} Training faces (upscaled 6x, score >= 0.5)")
    print(f"box side {med[0]:.1f} px of 48 (IQR {q1[0]:.1f}-{q3[0]:.1f}), "
          f"centre ({med[1]:.1f}, {med[2]:.1f}) (IQR y {q1[2]:.1f}-{q3[2]:.1f})")
    print(f"eyes ({med[3]:.1f}, {med[4]:.1f}) and ({med[5]:.1f}, {med[6]:.1f}); "
          f"roll {med[7]:.1f} deg (IQR {q1[7]:.1f} to {q3[7]:.1f})")
    crop = {"detector": DETECTOR, "scale": round(48 / med[0], 3),
            "shift_y": round((24 - med[2]) / med[0], 3), "align_eyes": True}
    print("crop:", json.dumps(crop))
    if args.write:
        path = args.model.with_suffix(".json")
        contract = json.loads(path.read_text())
        contract["crop"] = crop
        path.write_text(json.dumps(contract, indent=2) + "\n")
        print(f"written to {path}")


def accuracy(args: argparse.Namespace) -> None:
    """Prints PublicTest accuracy for stored faces and for detected-and-recropped ones."""
    images, labels = load(args.data, 1)
    rows = np.random.default_rng(1).choice(len(images), min(args.faces, len(images)),
                                           replace=False)
    clf = EmotionClassifier(args.model)
    detector = FaceDetector(min_score=0.5)
    spec = clf.contract.crop
    specs = {"aligned": spec, "not aligned": replace(spec, align_eyes=False)}
    rng = np.random.default_rng(2)
    probs: dict[str, list[np.ndarray]] = {name: [] for name in ("stored", *specs)}
    kept, found = [], 0
    for i in rows:
        side = int(rng.integers(160, 320))
        angle = float(rng.uniform(-20, 20))
        cx = int(rng.integers(side // 2 + 20, FRAME_W - side // 2 - 20))
        cy = int(rng.integers(side // 2 + 20, FRAME_H - side // 2 - 20))
        face = nearest(detector.detect(place(images[i], side, angle, (cx, cy))), (cx, cy))
        if face is None:
            continue
        found += 1
        frame = place(images[i], side, angle, (cx, cy))
        kept.append(labels[i])
        probs["stored"].append(clf.classify(images[i]))
        for name, s in specs.items():
            probs[name].append(clf.classify(crop_face(frame, face, s)))
    truth = np.array(kept)
    print(f"model {args.model.name}, crop {json.dumps(clf.contract.crop.__dict__)}")
    print(f"detector found {found}/{len(rows)} PublicTest faces placed in 640x480 frames "
          f"(side 160-320 px, rotated +-20 deg); accuracy on those:")
    for name, p in probs.items():
        pa = np.array(p)
        acc = (pa.argmax(1) == truth).mean()
        nll = -np.log(np.clip(pa[np.arange(len(truth)), truth], 1e-6, 1)).mean()
        print(f"  {name:12s} accuracy {acc:.4f}, log loss {nll:.3f}")


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("geometry", "accuracy"))
    p.add_argument("--data", type=Path, required=True, help="fer2013_train_publictest.npz")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--faces", type=int, default=3000, help="faces to use")
    p.add_argument("--write", action="store_true", help="geometry: store the crop in the .json")
    args = p.parse_args()
    geometry(args) if args.what == "geometry" else accuracy(args)


if __name__ == "__main__":
    main()
