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
from appliance.errors import ApplianceError, CameraUnavailable, ConfigError
from appliance.hw.images import read_image
from appliance.mood.aggregate import FaceReading, aggregate
from appliance.mood.check import FaceReader, MoodChecker, read_listener
from appliance.mood.faces import Face
from appliance.mood.listener import Gates
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
    parser.add_argument("--show", type=Path, metavar="FILE",
                        help="write the image annotated as a PNG: face boxes, the listener, "
                        "each face's emotion and confidence, why a face was skipped (with "
                        "several images: FILE-1.png, FILE-2.png, ...)")
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
    """Reads and prints each image's faces and mood; 1 if any image could not be read.

    An image is read like one frame of a camera check: every face is found, the listener is
    chosen and only their crop decides the mood; the other faces are listed with their own
    emotion for the user to see.
    """
    reader = FaceReader.from_config(config)
    mood = config.mood
    gates = Gates(mood.min_face_px, mood.min_sharpness, mood.max_turn)
    status = 0
    for number, path in enumerate(args.images, 1):
        try:
            frame = read_image(path)
        except CameraUnavailable as exc:
            print(f"moodbox check: {exc}", file=sys.stderr)
            status = 1
            continue
        faces = reader.detect(frame)
        seen = read_listener(reader, [frame], gates, [faces])
        reading = aggregate(seen.readings, 1, mood.min_confidence, circumplex=mood.circumplex,
                            people=seen.people, frame_faces=seen.frame_faces,
                            skipped=seen.skipped)
        listener = seen.tracks[seen.listener][0][1] if seen.listener is not None else None
        readings = [reader.classify(reader.crop(frame, f), f) for f in faces]
        result = image_result(path, readings, reading, listener)
        print(json.dumps(result) if args.json else describe(result))
        if args.show:
            target = args.show if len(args.images) == 1 else args.show.with_name(
                f"{args.show.stem}-{number}{args.show.suffix or '.png'}")
            if not cv2.imwrite(str(target), annotate(frame, result)):
                print(f"moodbox check: cannot write {target}", file=sys.stderr)
                status = 1
    return status


def check_camera(args: argparse.Namespace, config: Any) -> int:
    """One real mood check on the configured camera; prints the reading."""
    with MoodChecker.from_config(config) as checker:
        reading = checker.check()
    result = {"camera": config.camera.source, "emotion": reading.emotion,
              "confidence": round(reading.confidence, 4),
              "probabilities": _rounded(reading.probabilities), "faces": reading.faces,
              "frames": reading.frames, "frame_faces": reading.frame_faces,
              "used": reading.used, "skipped": list(reading.skipped),
              "valence": _round(reading.valence), "arousal": _round(reading.arousal)}
    if args.json:
        print(json.dumps(result))
    else:
        skipped = f"; skipped: {'; '.join(reading.skipped)}" if reading.skipped else ""
        print(f"{result['camera']}: {reading.emotion} ({reading.confidence:.2f}){_affect(result)}"
              f", {reading.faces} person(s), the listener's face used in {reading.used} of "
              f"{reading.frames} frame(s){skipped}")
    if args.show:
        print("moodbox check: --show needs IMAGE files; ignored for a camera check",
              file=sys.stderr)
    return 0


def image_result(path: Path, readings: list[FaceReading], reading: MoodReading,
                 listener: Face | None = None) -> dict:
    """The JSON object of one image: every face with its own emotion (the listener marked,
    a skipped listener crop with the reason), and the listener's reading."""
    reason = reading.skipped[0].partition(": ")[2] if reading.skipped else None
    faces = []
    for r in readings:
        face = {"box": [round(v, 1) for v in r.face.box], "score": round(r.face.score, 4),
                "emotion": r.emotion, "probabilities": _rounded(r.as_dict())}
        if r.face == listener:
            face["listener"] = True
            if reason:
                face["skipped"] = reason
        faces.append(face)
    return {"image": str(path), "faces": faces, "emotion": reading.emotion,
            "confidence": round(reading.confidence, 4), "people": reading.faces,
            "valence": _round(reading.valence), "arousal": _round(reading.arousal)}


def describe(result: dict) -> str:
    """One human line for an image result."""
    faces = "; ".join(
        f"{'listener ' if f.get('listener') else ''}{f['emotion']} "
        f"{max(f['probabilities'].values()):.2f} at "
        f"{','.join(str(round(v)) for v in f['box'])}"
        f"{' (skipped: ' + f['skipped'] + ')' if f.get('skipped') else ''}"
        for f in result["faces"]
    )
    head = f"{result['image']}: {result['emotion']} ({result['confidence']:.2f}){_affect(result)}"
    return f"{head}, {len(result['faces'])} face(s): {faces}" if faces else f"{head}, no face"


def annotate(frame: np.ndarray, result: dict) -> np.ndarray:
    """A copy of ``frame`` with each face's box, emotion and confidence; the listener in
    green (thick), others in grey, a skip reason in red; the reading along the top."""
    out = frame.copy()
    unit = max(1, round(max(out.shape[:2]) / 800))  # line and text size follow the image
    for face in result["faces"]:
        x, y, w, h = (round(v) for v in face["box"])
        colour = (0, 200, 0) if face.get("listener") else (170, 170, 170)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 3 * unit if face.get("listener")
                      else unit)
        text = f"{face['emotion']} {max(face['probabilities'].values()):.2f}"
        _label(out, text, (x, max(y - 6 * unit, 12 * unit)), colour, unit)
        if face.get("skipped"):
            _label(out, f"skipped: {face['skipped']}", (x, y + h + 16 * unit), (0, 0, 230),
                   unit)
    _label(out, describe(result).split(", ", 1)[0].split(": ", 1)[1], (8 * unit, 20 * unit),
           (255, 255, 255), unit)
    return out


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int],
           unit: int) -> None:
    # Dark outline first so the text reads on any background.
    for col, thick in (((0, 0, 0), 3 * unit), (colour, unit)):
        cv2.putText(image, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * unit, col, thick,
                    cv2.LINE_AA)


def _affect(result: dict) -> str:
    if result.get("valence") is None:
        return ""
    return f", valence {result['valence']:+.2f}, arousal {result['arousal']:+.2f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _rounded(probabilities: Any) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in probabilities.items()}
