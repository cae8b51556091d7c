"""Face detectors at room distances: faces found, false faces, emotion accuracy, ms per frame.

    .venv/bin/python scripts/bench_distance.py --fer PATH/fer2013_train_publictest.npz
    .venv/bin/python scripts/bench_distance.py --frames 30 --candidates short_range:0 full_range:0
    .venv/bin/python scripts/bench_distance.py --same-faces --distances 1 3.5 --candidates config

Each frame is a camera's full view (default 2304x1296, Camera Module 3's binned mode) with a
cluttered background: scikit-image photos without faces, tiled, plus random boxes, a light
gradient, a random gain and gamma, blur and sensor noise. A face is pasted at the width a
0.16 m face has at distance d through that lens, about 284/d px at 2304 wide (scaled with the
frame width): PublicTest faces of FER2013 (from ``--fer`` or ``$MOODBOX_FER2013``; their
labels give the emotion accuracy) and the public-domain portraits the tests use (astronaut,
cameraman, Grace Hopper; detection only). Face-free frames use the same backgrounds.

A detection is the face when its centre lies in the true box and its width is 0.5-2x the
true width; every other detection on a face-free frame is a false face. The emotion is read
from the found face's crop (cut from the full frame) by the shipped classifier. Time is detect +
choose + crop + classify of one frame on one thread.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.config import parse_config  # noqa: E402
from appliance.mood.classifier import EmotionClassifier  # noqa: E402
from appliance.mood.crop import crop_face  # noqa: E402
from appliance.mood.faces import FaceDetector  # noqa: E402
from appliance.mood.reader import detector_from_config  # noqa: E402
from appliance.mood.reading import LABELS  # noqa: E402
from appliance.mood.runtime import runtime_name  # noqa: E402

DISTANCES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
BACKGROUNDS = ("motorcycle_left", "coffee", "chelsea", "rocket", "coins", "horse", "brick",
               "grass", "gravel", "page", "text", "clock_motion", "moon", "color", "cell")
Box = tuple[float, float, float, float]
PORTRAITS = {"astronaut": (178, 81, 94, 94), "camera": (176, 121, 88, 88),
             "grace_hopper": (166, 144, 201, 200)}
FER_BOX = 40.5 / 48  # BlazeFace's box side on a FER2013 crop (appliance/mood/crop.py)


@dataclass
class Tally:
    """Counts of one candidate at one distance."""

    frames: int = 0
    found: int = 0
    portraits: int = 0
    portraits_found: int = 0
    labelled: int = 0
    labelled_found: int = 0
    correct: int = 0
    seconds: float = 0.0


def skimage_photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as BGR."""
    import skimage

    path = next((Path(skimage.__file__).parent / "data").glob(f"{name}.*"))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def portraits() -> list[tuple[np.ndarray, Box]]:
    """Head-and-shoulder cut-outs of the portraits, with the face box inside them."""
    import matplotlib.cbook

    grace = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg",
                                                            asfileobj=False)))
    assert grace is not None
    images = {"astronaut": skimage_photo("astronaut"), "camera": skimage_photo("camera"),
              "grace_hopper": grace}
    out: list[tuple[np.ndarray, Box]] = []
    for name, (x, y, w, h) in PORTRAITS.items():
        image = images[name]
        x0, y0 = max(0, int(x - w)), max(0, int(y - h * 0.8))
        x1, y1 = min(image.shape[1], int(x + 2 * w)), min(image.shape[0], int(y + 2.2 * h))
        out.append((image[y0:y1, x0:x1], (float(x - x0), float(y - y0), float(w), float(h))))
    return out


def background(rng: np.random.Generator, size: tuple[int, int],
               photos: list[np.ndarray]) -> np.ndarray:
    """A cluttered room-like frame: tiled photos, boxes and a light gradient."""
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    tile = int(rng.integers(height // 3, height))
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            photo = photos[int(rng.integers(len(photos)))]
            patch = cv2.resize(photo, (tile, tile), interpolation=cv2.INTER_AREA)
            frame[y : y + tile, x : x + tile] = patch[: height - y, : width - x]
    for _ in range(int(rng.integers(3, 12))):
        x, y = int(rng.integers(width)), int(rng.integers(height))
        w, h = int(rng.integers(20, width // 4)), int(rng.integers(20, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(frame, (x, y), (x + w, y + h), colour, -1)
    return frame


def finish(rng: np.random.Generator, frame: np.ndarray) -> np.ndarray:
    """Light (gradient, gain, gamma), blur and noise over the whole frame."""
    width = frame.shape[1]
    ramp = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.3), width, dtype=np.float32)
    light: np.ndarray = frame.astype(np.float32) / 255 * ramp[None, :, None]
    light = light * np.float32(rng.uniform(0.6, 1.2))
    light = np.asarray(np.clip(light, 0, 1) ** rng.uniform(0.7, 1.4) * 255, np.float32)
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        light = cv2.GaussianBlur(light, (0, 0), sigma)
    light += rng.normal(0, rng.uniform(1, 6), light.shape).astype(np.float32)
    return np.clip(light, 0, 255).astype(np.uint8)


def paste(rng: np.random.Generator, frame: np.ndarray, face: np.ndarray, box: Box,
          width_px: float) -> Box:
    """``face`` (BGR, its face at ``box``) scaled so the face is ``width_px`` wide, pasted
    with a feathered edge at a random place that keeps the face box inside the frame (the
    cut-out may run off the frame); returns the face box in the frame."""
    # The cut-out is widened by edge replication so that the feathering below falls outside
    # the face: a tight FER2013 crop would otherwise lose its outline.
    pad = max(2, face.shape[0] // 6)
    face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    box = (box[0] + pad, box[1] + pad, box[2], box[3])
    scale = width_px / box[2]
    image = cv2.resize(face, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    h, w = image.shape[:2]
    fh, fw = frame.shape[:2]
    # The feathering is made on the whole cut-out, then cut with it. (It used to be made on
    # the part left after clipping to the frame, which at 0.5 m faded the face itself into
    # the background: a benchmark artefact, not a detector miss.)
    border = max(2, min(round(pad * scale * 0.8), round(box[2] * scale * 0.25)))
    alpha = np.zeros((h, w), np.float32)
    alpha[border:-border, border:-border] = 1
    alpha = cv2.blur(alpha, (2 * border + 1, 2 * border + 1))
    fx, fy, fs = box[0] * scale, box[1] * scale, box[2] * scale
    x = int(rng.integers(int(-fx), int(fw - fx - fs) + 1))
    y = int(rng.integers(int(-fy), int(fh - fy - box[3] * scale) + 1))
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    cut = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    a = alpha[cut][:, :, None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (a * image[cut] + (1 - a) * region).astype(np.uint8)
    return (x + fx, y + fy, fs, box[3] * scale)


def fer_faces(path: Path | None, count: int, rng: np.random.Generator, usage: int = 1
              ) -> list[tuple[np.ndarray, Box, int]]:
    """``count`` PublicTest (``usage`` 1) or Training (0) faces as BGR crops with their face
    box and FER2013 label."""
    if path is None:
        return []
    images, labels, rows = _fer_rows(path, usage)
    picks = rng.choice(rows, size=count, replace=False)
    out = []
    for i in picks:
        grey = images[i]
        side = FER_BOX * 48
        box = ((48 - side) / 2, (48 - side) / 2 + 0.098 * side, side, side)
        out.append((cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), box, int(labels[i])))
    return out


@functools.cache
def _fer_rows(path: Path, usage: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.load(path)
    rows = np.flatnonzero((data["usage"] == usage) & (data["label_ambiguous"] == 0))
    return data["images"], data["labels"], rows


def fer_on_head(fer: np.ndarray, fer_box: Box, head: np.ndarray, box: Box
                ) -> tuple[np.ndarray, Box]:
    """A FER2013 face set into a portrait's head (feathered edge, the head's exposure and
    colour), so that the face has hair, ears and shoulders around it as a person in a room
    does; a bare 48x48 crop has none, and BlazeFace relies on them (found 0-55% of the time
    as bare crops)."""
    scale = box[2] / fer_box[2]
    face = cv2.resize(fer, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(cv2.cvtColor(head, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    # The FER crop's exposure is brought to the head's own face (mean and spread), as one
    # camera exposes one person; a darker or paler rectangle over the face left a seam that
    # no real face has.
    x, y, w, h = (int(v) for v in box)
    skin = out[y : y + h, x : x + w].astype(np.float32)
    face = face.astype(np.float32)
    face = (face - face.mean()) / max(float(face.std()), 1.0) * skin.std() + skin.mean()
    face = np.clip(face, 0, 255)
    x0 = round(box[0] - fer_box[0] * scale)
    y0 = round(box[1] - fer_box[1] * scale)
    h, w = face.shape[:2]
    xs, ys = max(x0, 0), max(y0, 0)
    xe, ye = min(x0 + w, out.shape[1]), min(y0 + h, out.shape[0])
    alpha = np.zeros((h, w), np.float32)
    edge = max(2, w // 10)
    alpha[edge:-edge, edge:-edge] = 1
    alpha = cv2.blur(alpha, (2 * edge + 1, 2 * edge + 1))[:, :, None]
    patch = (alpha * face + (1 - alpha) * out[y0 : y0 + h, x0 : x0 + w]
             if (xs, ys, xe, ye) == (x0, y0, x0 + w, y0 + h) else None)
    if patch is not None:
        out[y0 : y0 + h, x0 : x0 + w] = patch.astype(np.uint8)
    # The head's own colour (its chroma) over the grey composite: a listener is seen in
    # colour, and BlazeFace scores a grey face lower than the same face in colour. The grey
    # cameraman stays grey.
    ycc = cv2.cvtColor(head, cv2.COLOR_BGR2YCrCb)
    ycc[:, :, 0] = out[:, :, 0]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR), box


def face_frames(args: argparse.Namespace, distance: float, seed: int
                ) -> Iterator[tuple[np.ndarray, Box, int]]:
    """Frames with one face at ``distance``: (frame, true box, FER label or -1)."""
    rng = np.random.default_rng(seed + args.seed)
    photos = [skimage_photo(n) for n in BACKGROUNDS]
    # --same-faces draws the FER faces independently of the distance, so every distance shows
    # the same faces (a paired comparison of emotion accuracy across distances).
    fer_rng = np.random.default_rng(args.seed) if args.same_faces else rng
    fer = fer_faces(args.fer, args.frames, fer_rng, 0 if args.tune else 1)
    people = portraits()
    width_px = 284 / distance * args.width / 2304
    for k in range(args.frames):
        frame = background(rng, (args.width, args.height), photos)
        if fer and k % 4 != 3:  # three FER faces (on a portrait's head) to one portrait
            face, fer_box, label = fer[k]
            head, head_box = people[k % len(people)]
            image, box = fer_on_head(face, fer_box, head, head_box)
        else:
            (image, box), label = people[k % len(people)], -1
        truth = paste(rng, frame, image, box, width_px)
        yield finish(rng, frame), truth, label


def empty_frames(args: argparse.Namespace, count: int) -> Iterator[np.ndarray]:
    """Face-free frames over the same kinds of background."""
    rng = np.random.default_rng(999 + args.seed)
    photos = [skimage_photo(n) for n in BACKGROUNDS]
    for _ in range(count):
        yield finish(rng, background(rng, (args.width, args.height), photos))


def matches(det: Box, truth: Box) -> bool:
    """Centre of ``det`` inside ``truth`` and width within 0.5-2x."""
    cx, cy = det[0] + det[2] / 2, det[1] + det[3] / 2
    inside = truth[0] <= cx <= truth[0] + truth[2] and truth[1] <= cy <= truth[1] + truth[3]
    return inside and 0.5 <= det[2] / truth[2] <= 2.0


@dataclass
class Candidate:
    """One detector setting under test and its tallies."""

    spec: str
    detector: FaceDetector
    tallies: dict[float, Tally]
    false: int = 0


def make_candidate(spec: str, min_score: float) -> Candidate:
    """``MODEL:TILES[:SCORE[:CANDIDATE[:CONFIRM[:NEAR[:WHOLE[:EXIT[:REFIND[:MIRROR[:CLOSE[:SECOND]]]]]]]]]]``
    -> a detector with empty tallies (NEAR 0 leaves out the short-range whole-frame pass, WHOLE 0
    the model's own whole-frame pass when there are tiles, EXIT 1 skips the tiles when the
    whole-frame passes give a confirmed face, REFIND the short-range score at which a strong
    candidate must be found again, MIRROR 1 gates on the mean of short range's scores on the
    window and its mirror image, CLOSE the short-range score that keeps a candidate 1/15 of
    the frame wide, SECOND the gate of the second look on a tighter window); ``config`` is the
    detector the appliance builds from its default config (``appliance/defaults.toml``)."""
    if spec == "config":
        return Candidate(spec, detector_from_config(parse_config({})), {})
    fields = [*spec.split(":"), *[""] * 11][:12]
    model, tiles, score, candidate, confirm, near, whole, exit_, refind, mirror, close = fields[:11]
    second = fields[11]
    detector = FaceDetector(min_score=float(score or min_score), model=model,
                            tiles=int(tiles or 0),
                            candidate_score=float(candidate) if candidate else None,
                            confirm_score=float(confirm) if confirm else None,
                            near_pass=near != "0", whole_pass=whole != "0",
                            early_exit=exit_ == "1",
                            refind_score=float(refind) if refind else None,
                            mirror=mirror == "1",
                            near_score=float(close) if close else None,
                            second_score=float(second) if second else None)
    return Candidate(spec, detector, {})


def score_frame(candidate: Candidate, classifier: EmotionClassifier, tally: Tally,
                frame: np.ndarray, truth: Box, label: int) -> None:
    """Detect, choose the matching face, crop and classify; count into ``tally``."""
    start = time.perf_counter()
    faces = candidate.detector.detect(frame)
    hit = next((f for f in faces if matches(f.box, truth)), None)
    probs = None
    if hit is not None:
        probs = classifier.classify(crop_face(frame, hit, classifier.contract.crop))
    tally.seconds += time.perf_counter() - start
    tally.frames += 1
    tally.found += hit is not None
    if label < 0:
        tally.portraits += 1
        tally.portraits_found += hit is not None
    else:
        tally.labelled += 1
        tally.labelled_found += probs is not None
        if probs is not None:
            tally.correct += int(np.argmax(probs)) == classifier.labels.index(LABELS[label])


def run(args: argparse.Namespace, candidates: list[Candidate],
        classifier: EmotionClassifier) -> None:
    """Every frame once, through every candidate (frames are costly to make)."""
    for d in args.distances:
        for c in candidates:
            c.tallies[d] = Tally()
        for frame, truth, label in face_frames(args, d, seed=int(d * 100)):
            for c in candidates:
                score_frame(c, classifier, c.tallies[d], frame, truth, label)
        print(f"  {d:g} m done", file=sys.stderr, flush=True)
    for frame in empty_frames(args, args.empty):
        for c in candidates:
            c.false += len(c.detector.detect(frame))


def report(c: Candidate, empty: int) -> None:
    """Markdown rows of one candidate."""
    print(f"\n### {c.spec}: false faces {c.false} on {empty} face-free frames\n")
    print("| distance m | face px | found | portraits found | FER faces found | "
          "emotion right (FER, misses wrong) | emotion acc on found | ms/frame |")
    print("|---|---|---|---|---|---|---|---|")
    for d, t in c.tallies.items():
        acc = f"{t.correct}/{t.labelled} = {t.correct / t.labelled:.0%}" if t.labelled else "n/a"
        on_found = (f"{t.correct / t.labelled_found:.1%}" if t.labelled_found else "n/a")
        print(f"| {d:g} | {284 / d:.0f} | {t.found}/{t.frames} | "
              f"{t.portraits_found}/{t.portraits} | {t.labelled_found}/{t.labelled} | {acc} | "
              f"{on_found} | {t.seconds / t.frames * 1000:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fer", type=Path, default=os.environ.get("MOODBOX_FER2013") or None,
                        help="fer2013_train_publictest.npz (PublicTest faces give accuracy)")
    parser.add_argument("--frames", type=int, default=30, help="frames per distance")
    parser.add_argument("--empty", type=int, default=100, help="face-free frames")
    parser.add_argument("--width", type=int, default=2304)
    parser.add_argument("--height", type=int, default=1296)
    parser.add_argument("--min-score", type=float, default=0.75)
    parser.add_argument("--tune", action="store_true",
                        help="Training faces instead of PublicTest (for choosing settings; "
                             "report held-out figures without it)")
    parser.add_argument("--seed", type=int, default=0,
                        help="added to every frame seed (tune on one, report on another)")
    parser.add_argument("--distances", type=float, nargs="+", default=DISTANCES)
    parser.add_argument("--same-faces", action="store_true",
                        help="the same FER faces at every distance (paired emotion accuracy)")
    parser.add_argument("--emotion-model", type=Path,
                        help="a .tflite emotion model with its .json (default: the shipped one)")
    parser.add_argument("--candidates", nargs="+",
                        metavar=("MODEL:TILES[:SCORE[:CAND[:CONFIRM[:NEAR[:WHOLE[:EXIT"
                                 "[:REFIND[:MIRROR[:CLOSE[:SECOND]]]]]]]]]]"),
                        default=["config", "short_range:0", "full_range:0", "full_range_sparse:0",
                                 "short_range:2", "full_range:1"])
    args = parser.parse_args()
    cv2.setNumThreads(1)  # the figures are for one thread, OpenCV's resizes included
    classifier = EmotionClassifier(args.emotion_model)
    print(f"{args.width}x{args.height} frames, {args.frames} per distance, runtime "
          f"{runtime_name()}, FER faces: {'yes' if args.fer else 'no (portraits only)'}")
    candidates = [make_candidate(spec, args.min_score) for spec in args.candidates]
    run(args, candidates, classifier)
    for c in candidates:
        report(c, args.empty)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
