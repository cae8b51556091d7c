"""Shared fixtures: public-domain photos from registry wheels, gpiozero's mock pins, models.

The photos are the ones shipped inside scikit-image (``astronaut.png``: NASA's portrait of
Eileen Collins, smiling; ``camera.png``: the cameraman) and matplotlib (``grace_hopper.jpg``),
plus scikit-image photos without faces. Nothing is downloaded and nothing is committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

# Off a Pi gpiozero needs a pin factory; the mock one records each pin's state history.
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

SKIMAGE_DATA = Path(__import__("skimage").__file__).parent / "data"

NON_FACE_PHOTOS = ("motorcycle_left", "coffee", "chelsea", "rocket")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {path}"
    return image


@pytest.fixture(scope="session")
def photo_paths() -> dict[str, Path]:
    """Paths of the three face photos inside the installed wheels."""
    import matplotlib.cbook

    grace = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return {"astronaut": SKIMAGE_DATA / "astronaut.png", "camera": SKIMAGE_DATA / "camera.png",
            "grace_hopper": grace}


@pytest.fixture(scope="session")
def photos(photo_paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """The three face photos as BGR uint8 (read-only: copy before changing)."""
    out = {name: _read(path) for name, path in photo_paths.items()}
    for image in out.values():
        image.flags.writeable = False
    return out


@pytest.fixture(scope="session")
def non_face_photos() -> dict[str, np.ndarray]:
    """scikit-image photos without a face (motorcycle, coffee, cat, rocket), BGR uint8."""
    out = {name: _read(next(SKIMAGE_DATA.glob(f"{name}.*"))) for name in NON_FACE_PHOTOS}
    for image in out.values():
        image.flags.writeable = False
    return out


@pytest.fixture
def mock_pins() -> Iterator[object]:
    """gpiozero's MockFactory, reset before and after the test."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    if not isinstance(Device.pin_factory, MockFactory):
        Device.pin_factory = MockFactory()
    Device.pin_factory.reset()
    yield Device.pin_factory
    Device.pin_factory.reset()


@pytest.fixture(scope="session")
def detector() -> object:
    """The BlazeFace detector at the default score floor."""
    from appliance.mood.faces import FaceDetector

    return FaceDetector(min_score=0.75)


@pytest.fixture(scope="session")
def classifier() -> object:
    """The shipped emotion model (its mirror averaging is inside the network)."""
    from appliance.mood.classifier import EmotionClassifier

    return EmotionClassifier()


@pytest.fixture(scope="session")
def reader(detector: object, classifier: object) -> object:
    """Detector and classifier together (``FaceReader``)."""
    from appliance.mood.check import FaceReader

    return FaceReader(detector, classifier)  # type: ignore[arg-type]
