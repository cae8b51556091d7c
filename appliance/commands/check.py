"""``moodbox check``: read the mood in image files, or run one real check on the camera."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from appliance.commands import EXIT_CONFIG, add_config_argument, config_from_args
from appliance.errors import ApplianceError, ConfigError
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.check import FaceReader, MoodChecker
from appliance.mood.reading import MoodReading


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="read the mood in images, or run one mood check on the camera",
        description="With IMAGE files: find the faces in each and classify them. Without: "
        "open the configured camera (or --camera) for one mood check, then close it.",
    )
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE",
                        help="image files to check instead of the camera")
    parser.add_argument("--camera", metavar="SOURCE",
                        help='camera to use: "picamera2", "opencv:N", "files:DIR"')
    parser.add_argument("--json", action="store_true", help="print one JSON object per result")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit code 0; 1 when an image is unreadable or the camera or model fails; 2 for config."""
    config = config_from_args(args)
    if args.camera:
        config = dataclasses.replace(
            config, camera=dataclasses.replace(config.camera, source=args.camera)
        )
    try:
        return check_images(args, config) if args.images else check_camera(args, config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"moodbox check: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except ApplianceError as exc:
        print(f"moodbox check: {exc}", file=sys.stderr)
        return 1


def check_images(args: argparse.Namespace, config: Any) -> int:
    """Reads and prints each image's faces and mood; 1 if any image could not be read."""
    reader = FaceReader.from_config(config)
    status = 0
    for path in args.images:
        frame, why = read_image(path)
        if frame is None:
            print(f"moodbox check: {path}: {why}", file=sys.stderr)
            status = 1
            continue
        readings = reader.read(frame)
        reading = aggregate(readings, 1, config.mood.min_confidence)
        result = image_result(path, readings, reading)
        print(json.dumps(result) if args.json else describe(result))
    return status


def check_camera(args: argparse.Namespace, config: Any) -> int:
    """One real mood check on the configured camera; prints the reading."""
    with MoodChecker.from_config(config) as checker:
        reading = checker.check()
    result = {"camera": config.camera.source, "emotion": reading.emotion,
              "confidence": round(reading.confidence, 4),
              "probabilities": _rounded(reading.probabilities), "faces": reading.faces,
              "frames": reading.frames}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['camera']}: {reading.emotion} ({reading.confidence:.2f}), "
              f"{reading.faces} face(s) in {reading.frames} frame(s)")
    return 0


def read_image(path: Path) -> tuple[np.ndarray | None, str]:
    """``(BGR uint8 image, "")``, or ``(None, why)`` when it cannot be read or decoded."""
    try:
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror})"
    # imdecode rather than imread: imread logs its own warning lines on a bad file.
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if frame is None or not frame.size:
        return None, "not an image OpenCV can decode (corrupt or unknown format)"
    return frame, ""


def image_result(path: Path, readings: list[FaceReading], reading: MoodReading) -> dict:
    """The JSON object of one image (see the issue: image, faces, emotion, confidence)."""
    faces = [{"box": [round(v, 1) for v in r.face.box], "score": round(r.face.score, 4),
              "emotion": r.emotion, "probabilities": _rounded(r.as_dict())} for r in readings]
    return {"image": str(path), "faces": faces, "emotion": reading.emotion,
            "confidence": round(reading.confidence, 4)}


def describe(result: dict) -> str:
    """One human line for an image result."""
    faces = "; ".join(
        f"{f['emotion']} {max(f['probabilities'].values()):.2f} at "
        f"{','.join(str(round(v)) for v in f['box'])}" for f in result["faces"]
    )
    head = f"{result['image']}: {result['emotion']} ({result['confidence']:.2f})"
    return f"{head}, {len(result['faces'])} face(s): {faces}" if faces else f"{head}, no face"


def _rounded(probabilities: Any) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in probabilities.items()}
