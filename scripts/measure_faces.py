"""Face detector recall, false positives and speed on public-domain photos in 640x480 frames.

    .venv/bin/python scripts/measure_faces.py             # BlazeFace (ai-edge-litert)
    .venv-bookworm/bin/python scripts/measure_faces.py    # + OpenCV 4 Haar cascades, tflite-runtime

Faces: scikit-image ``astronaut`` and ``camera`` and matplotlib ``grace_hopper``, each scaled
so the face is 60-220 px wide, rotated by -25..25 degrees and mirrored, in a 640x480 frame
(120 frames); and the 100 face patches of scikit-image's ``lfw_subset`` (25x25, upscaled to
100-200 px). Non-faces: 20 scikit-image photos without faces (motorcycle, coffee, chelsea,
rocket, coins, horse, ...; as is and mirrored), regions of the three portraits that hold no
face, and the 100 non-face patches of ``lfw_subset``. A detection counts as the face when
its centre lies in the true face box and its size is within 0.5-2x; every other detection is
a false positive. Haar runs at the ``fer`` package's settings (scaleFactor 1.1,
minNeighbors 5, minSize 50) and at a faster setting (1.2, 5, 80).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.mood import runtime  # noqa: E402
from appliance.mood.faces import FaceDetector, find_model, weighted_nms  # noqa: E402
from appliance.mood.runtime import runtime_name  # noqa: E402

W, H = 640, 480
Box = tuple[float, float, float, float]
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
NON_FACE_PHOTOS = ("motorcycle_left", "coffee", "chelsea", "rocket", "coins", "horse",
                   "hubble_deep_field", "retina", "brick", "grass", "gravel", "page", "text",
                   "clock_motion", "cell", "moon", "ihc", "microaneurysms", "logo", "color")


def skimage_photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as BGR, read from the installed package."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    path = next(folder.glob(f"{name}.*"))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return image


def portraits() -> list[tuple[np.ndarray, Box]]:
    """The three public-domain portraits with their face boxes (x, y, w, h)."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    grace = cv2.imread(str(path))
    if grace is None:
        raise SystemExit(f"cannot read {path}")
    return [(skimage_photo("astronaut"), (178, 81, 94, 94)),
            (skimage_photo("camera"), (176, 121, 88, 88)),
            (grace, (166, 144, 201, 200))]


def place(image: np.ndarray, scale: float, angle: float, mirror: bool,
          centre: tuple[float, float], box: Box | None) -> tuple[np.ndarray, Box | None]:
    """``image`` scaled, rotated about ``centre`` (the face centre) and put mid-frame."""
    if mirror:
        image = cv2.flip(image, 1)
        centre = (image.shape[1] - centre[0], centre[1])
        if box is not None:
            box = (image.shape[1] - box[0] - box[2], box[1], box[2], box[3])
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] = matrix[:, 2] + (W / 2 - centre[0], H / 2 - centre[1])
    frame = cv2.warpAffine(image, matrix, (W, H), borderValue=(114, 114, 114))
    if box is None:
        return frame, None
    side = box[2] * scale
    return frame, (W / 2 - side / 2, H / 2 - side / 2, side, side)


def face_frames() -> Iterator[tuple[np.ndarray, Box]]:
    """Frames with one known face each."""
    for image, box in portraits():
        centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
        for width in (60, 90, 130, 170, 220):
            for angle in (-25, -10, 0, 10, 25):
                for mirror in (False, True):
                    if angle in (-25, 25) and mirror:
                        continue  # keep the set at 120 frames: 3 x 5 x 8
                    yield place(image, width / box[2], angle, mirror, centre, box)  # type: ignore[misc]
    import skimage.data

    lfw = skimage.data.lfw_subset()
    for i, patch in enumerate(lfw[:100]):
        grey = (patch * 255).astype(np.uint8)
        side = 100 + i
        big = cv2.cvtColor(cv2.resize(grey, (side, side), interpolation=cv2.INTER_CUBIC),
                           cv2.COLOR_GRAY2BGR)
        yield place(big, 1.0, 0.0, False, (side / 2, side / 2), (0, 0, side, side))  # type: ignore[misc]


def non_face_frames() -> Iterator[np.ndarray]:
    """Frames without a face."""
    for name in NON_FACE_PHOTOS:
        image = skimage_photo(name)
        scale = min(W / image.shape[1], H / image.shape[0]) * 1.2
        centre = (image.shape[1] / 2, image.shape[0] / 2)
        for mirror in (False, True):
            yield place(image, scale, 0.0, mirror, centre, None)[0]
    for image, (x, y, w, h) in portraits():
        below = image[int(y + h * 1.6):]  # the body below the face
        right = image[:, int(x + w * 1.4):]  # beside it
        for part in (below, right):
            if min(part.shape[:2]) > 60:
                s = min(W / part.shape[1], H / part.shape[0])
                yield place(part, s, 0.0, False, (part.shape[1] / 2, part.shape[0] / 2), None)[0]
    import skimage.data

    for patch in skimage.data.lfw_subset()[100:]:
        grey = cv2.resize((patch * 255).astype(np.uint8), (150, 150),
                          interpolation=cv2.INTER_CUBIC)
        yield place(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), 1.0, 0.0, False, (75, 75), None)[0]


def matches(det: Box, truth: Box) -> bool:
    """The detection's centre is inside the true box and its size within 0.5-2x."""
    cx, cy = det[0] + det[2] / 2, det[1] + det[3] / 2
    inside = truth[0] <= cx <= truth[0] + truth[2] and truth[1] <= cy <= truth[1] + truth[3]
    return inside and 0.5 <= det[2] / truth[2] <= 2.0


Detect = Callable[[np.ndarray], list[tuple[Box, float]]]


def evaluate(name: str, detect: Detect, faces: list, others: list, thresholds: tuple) -> None:
    """Prints recall and false positives per threshold, and ms per frame."""
    times, hits, fps = [], [], []
    for frame, truth in faces:
        t = time.perf_counter()
        found = detect(frame)
        times.append(time.perf_counter() - t)
        hits.append(max((s for b, s in found if matches(b, truth)), default=-1.0))
        fps += [s for b, s in found if not matches(b, truth)]
    for frame in others:
        t = time.perf_counter()
        found = detect(frame)
        times.append(time.perf_counter() - t)
        fps += [s for _, s in found]
    hits_a = np.array(hits)
    fps_a = np.array(fps)
    portraits_n = 120
    for th in thresholds:
        print(f"{name:34s} {th:5.2f}  portraits {np.sum(hits_a[:portraits_n] >= th):3d}/120"
              f"  lfw {np.sum(hits_a[portraits_n:] >= th):3d}/100"
              f"  false positives {np.sum(fps_a >= th):3d} in {len(faces) + len(others)} frames")
    print(f"{name:34s} {1000 * float(np.median(times)):.2f} ms per 640x480 frame (median)")


class FullRange:
    """BlazeFace full-range from the same wheel, for comparison only (192x192 input, one
    anchor per cell of a 48x48 grid)."""

    SIZE, CELLS = 192, 48

    def __init__(self) -> None:
        self.it = runtime.load_interpreter(find_model().parent / "face_detection_full_range.tflite")
        self.inp = self.it.get_input_details()[0]["index"]
        outs = {tuple(o["shape"]): o["index"] for o in self.it.get_output_details()}
        self.boxes, self.scores = outs[(1, 2304, 16)], outs[(1, 2304, 1)]
        c = (np.arange(self.CELLS, dtype=np.float32) + 0.5) / self.CELLS
        ys, xs = np.meshgrid(c, c, indexing="ij")
        self.anchors = np.stack([xs.ravel(), ys.ravel()], axis=1)
        self.buf = np.empty((self.SIZE, self.SIZE, 3), np.float32)

    def detect(self, frame: np.ndarray, min_score: float = 0.5) -> list[tuple[Box, float]]:
        n = self.SIZE
        h, w = frame.shape[:2]
        s = n / max(h, w)
        nw, nh = round(w * s), round(h * s)
        px, py = (n - nw) // 2, (n - nh) // 2
        small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
        self.buf.fill(-1.0)
        self.buf[py:py + nh, px:px + nw] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB) * (2 / 255) - 1
        self.it.set_tensor(self.inp, self.buf[None])
        self.it.invoke()
        raw = self.it.get_tensor(self.boxes)[0]
        score = 1 / (1 + np.exp(-np.clip(self.it.get_tensor(self.scores)[0, :, 0], -80, 80)))
        keep = np.flatnonzero(score >= min_score)
        reg, anchor = raw[keep] / n, self.anchors[keep]
        centre, half = reg[:, :2] + anchor, reg[:, 2:4] / 2
        rows = np.concatenate([centre - half, centre + half, reg[:, 4:8] + np.tile(anchor, 2)], 1)
        out = []
        for row, sc in weighted_nms(rows, score[keep]):
            (x0, y0), (x1, y1) = (row[:4].reshape(2, 2) * n - (px, py)) / s
            out.append(((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), sc))
        return out


def main() -> None:
    """Runs every detector available in this venv on the same frames."""
    faces = list(face_frames())
    others = list(non_face_frames())
    print(f"{len(faces)} face frames, {len(others)} non-face frames, OpenCV {cv2.__version__}, "
          f"{runtime_name()}, 1 thread")
    detector = FaceDetector(min_score=min(THRESHOLDS))
    evaluate("BlazeFace short-range", lambda f: [(x.box, x.score) for x in detector.detect(f)],
             faces, others, THRESHOLDS)
    full = FullRange()
    evaluate("BlazeFace full-range (comparison)", full.detect, faces, others, (0.5, 0.6, 0.75))
    if not hasattr(cv2, "CascadeClassifier"):
        print("Haar: this OpenCV has no CascadeClassifier (OpenCV 5 removed it)")
        return
    cv2.setNumThreads(1)
    # OpenCV 4.x only (checked above); OpenCV 5's stubs, which mypy reads, lack cv2.data.
    folder = cv2.data.haarcascades  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
    for sf, mn, ms in ((1.1, 5, 50), (1.2, 5, 80)):
        def haar(f: np.ndarray, sf: float = sf, mn: int = mn, ms: int = ms) -> list:
            grey = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
            rects = cascade.detectMultiScale(grey, scaleFactor=sf, minNeighbors=mn,
                                             minSize=(ms, ms))
            return [(tuple(map(float, r)), 1.0) for r in rects]
        evaluate(f"Haar default ({sf}, {mn}, min {ms})", haar, faces, others, (1.0,))


if __name__ == "__main__":
    main()
