"""Moves a training sweep to a lent GPU machine and back (used by scripts/gpu_sweep.sh).

    python scripts/sweep_io.py pack FER_NPZ FOLDER      # FOLDER/fer.webp + FOLDER/fer_meta.npz
    python scripts/sweep_io.py unpack FOLDER OUT.npz    # back to an npz train.py reads
    KERAS_BACKEND=jax python scripts/sweep_io.py probe  # does Keras train here, and where?
    python scripts/sweep_io.py collect WORK RESULT      # each run's model, logs: tars in RESULT

The machine takes at most 64 MiB of files a call and FER2013 is 74 MB of pixels that zlib
cannot shrink; one lossless WebP mosaic of all faces is 52 MB (decoded and compared when
packed). It gives back at most 8 files of 16 MiB, so ``collect`` saves each run's best model
without its optimizer state (4.5 MB instead of 13 for the shipped network) and packs the runs
into tars of at most 15 MiB; a run too big for one alone travels without its largest files,
the model first.
"""

from __future__ import annotations

import json
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

COLUMNS = 100  # faces a mosaic row: 4,800 px wide, and 322 rows stay under WebP's 16,383
KEYS = ("labels", "usage", "usage_names", "ferplus_votes")
TAR_BYTES = 15 * 2**20  # the machine gives back files of at most 16 MiB; tar headers fit
RUN_FILES = ("slim.keras", "oof.npz", "history.csv", "runs.jsonl")


def pack(npz: Path, folder: Path) -> None:
    """Writes the faces as one lossless WebP mosaic and the rest as a small npz."""
    with np.load(npz) as data:
        images, rest = data["images"], {k: data[k] for k in KEYS}
    rows = -(-len(images) // COLUMNS)
    padded = np.zeros((rows * COLUMNS, 48, 48), np.uint8)
    padded[:len(images)] = images
    mosaic = padded.reshape(rows, COLUMNS, 48, 48).transpose(0, 2, 1, 3)
    ok, encoded = cv2.imencode(".webp", mosaic.reshape(rows * 48, COLUMNS * 48),
                               [cv2.IMWRITE_WEBP_QUALITY, 101])  # above 100: lossless
    if not ok:
        raise RuntimeError(f"{npz}: OpenCV could not encode the faces as WebP")
    folder.mkdir(parents=True, exist_ok=True)
    encoded.tofile(folder / "fer.webp")
    np.savez_compressed(folder / "fer_meta.npz", count=len(images), **rest)
    if not np.array_equal(_faces(folder), images):
        raise RuntimeError(f"{folder / 'fer.webp'}: the mosaic does not decode to the faces")


def _faces(folder: Path) -> np.ndarray:
    count = int(np.load(folder / "fer_meta.npz")["count"])
    mosaic = cv2.imdecode(np.fromfile(folder / "fer.webp", np.uint8), cv2.IMREAD_GRAYSCALE)
    if mosaic is None:
        raise RuntimeError(f"{folder / 'fer.webp'}: not a WebP image; pack it again")
    rows = mosaic.shape[0] // 48
    tiles = mosaic.reshape(rows, 48, COLUMNS, 48).transpose(0, 2, 1, 3).reshape(-1, 48, 48)
    return np.ascontiguousarray(tiles[:count])


def unpack(folder: Path, out: Path) -> None:
    """Writes the npz that ``pack`` read (the keys ferdata.load_split needs)."""
    with np.load(folder / "fer_meta.npz") as meta:
        rest = {k: meta[k] for k in KEYS}
    np.savez(out, images=_faces(folder), **rest)


def probe() -> None:
    """Trains a tiny network for two epochs on KERAS_BACKEND and says on which device."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Conv2D(4, 3),
                              keras.layers.BatchNormalization(), keras.layers.Flatten(),
                              keras.layers.Dense(7, activation="softmax")])
    model.compile("adamw", "categorical_crossentropy")
    x = np.random.default_rng(0).random((128, 48, 48, 1), np.float32)
    model.fit(x, np.eye(7, dtype=np.float32)[np.arange(128) % 7], batch_size=64, epochs=2,
              verbose=0)
    print(f"probe: keras {keras.__version__} trains on {keras.backend.backend()}, "
          f"{keras.ops.convert_to_tensor(x[:1]).device}")


def collect(work: Path, result: Path) -> None:
    """Packs every run in WORK (a folder with history.csv) into RESULT/runsN.tar and prints
    a line per run."""
    import keras

    runs = sorted(p.parent for p in work.glob("*/history.csv"))
    for run in runs:
        if (run / "best.keras").exists():  # uncompiled: saved without the optimizer's state
            keras.models.load_model(run / "best.keras", compile=False).save(run / "slim.keras")
    files = {run: [path for path in [run / name for name in RUN_FILES] + [work / f"{run.name}.log"]
                   if path.exists()] for run in runs}
    arcnames = {path: f"{run.name}/{path.name}" for run in runs for path in files[run]}
    result.mkdir(parents=True, exist_ok=True)
    for number, group in enumerate(tar_groups([files[run] for run in runs])):
        with tarfile.open(result / f"runs{number}.tar", "w") as tar:
            for path in group:
                tar.add(path, arcname=arcnames[path])
    for run in runs:
        print(summary(run))


def tar_groups(runs: list[list[Path]], limit: int = TAR_BYTES) -> list[list[Path]]:
    """The runs' files grouped into tars of at most ``limit`` bytes, runs kept whole and in
    order; a run over the limit even on its own travels without its largest files (the model
    first), left out one at a time until the rest fits."""
    groups: list[list[Path]] = []
    size = limit + 1  # no group open yet
    for paths in runs:
        sizes = {path: path.stat().st_size for path in paths}
        need = sum(sizes.values())
        while need > limit:
            # A tar over the limit would not come back at all, so the run loses what it must.
            biggest = max(paths, key=sizes.__getitem__)
            print(f"{biggest}: left out; with it the run comes to {need} bytes, over the "
                  f"{limit} a returned file may be")
            paths = [path for path in paths if path != biggest]
            need -= sizes[biggest]
        if size + need > limit:
            groups.append([])
            size = 0
        groups[-1].extend(paths)
        size += need
    return groups


def summary(run: Path) -> str:
    """One line: the run's epochs and scores, or that it stopped before its end."""
    if not (run / "runs.jsonl").exists():
        return f"{run.name}: no run log (stopped before the end)"
    record = json.loads((run / "runs.jsonl").read_text().splitlines()[-1])
    return (f"{run.name}: {record['epochs_this_run']} epochs, {record['seconds']} s, "
            f"validation {record['validation']['accuracy']:.4f}, "
            f"PublicTest {record['publictest']['accuracy']:.4f}")


def main(argv: list[str]) -> int:
    commands: dict[str, tuple[Callable[..., None], int]] = {
        "pack": (pack, 2), "unpack": (unpack, 2), "probe": (probe, 0), "collect": (collect, 2)}
    if not argv or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    command, _ = commands[argv[0]]
    command(*(Path(a) for a in argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
