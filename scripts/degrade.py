"""What a Pi camera in a room does to a face, applied to 48x48 grey FER crops.

``SUITE`` is the fixed set of conditions ``evaluate.py --degrade`` scores; ``degrade_random``
draws one degradation at a random strength for ``train.py --degrade-aug``. Every function
takes and returns grey uint8 faces (H, W) and draws randomness only from the generator it is
given, so a seeded generator makes the results repeatable. Needs numpy and OpenCV only.

Distance. A 0.16 m wide face is about 284/d px wide at distance d m in a full-view frame
2304 px wide, so ``284 / d * W / 2304`` px in a frame W px wide. The appliance captures
640x480 (``appliance.hw.picamera``), so its face is 78.9/d px wide, and the crop it cuts is
1.186 face-box sides (``emotion.json``'s crop: the box is 40.5 of the 48 px of a FER face),
so the crop holds ``1.186 * 78.9 / d`` = 94 / 47 / 31 / 23 camera pixels at 1 / 2 / 3 / 4 m.
A crop with fewer than 48 camera pixels is simulated by shrinking the 48 px face to that
many pixels (area averaging, as a sensor does) and enlarging it back to 48 (bilinear, as the
appliance's crop does); at 1 m the crop has more than 48 pixels and nothing is lost. At 2304
px frame width the crop would hold 84 px even at 4 m: distance would cost no detail at all.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 48
FACE_PX_AT_1M = 284.0  # a 0.16 m face at 1 m, full view, 2304 px frame width
REFERENCE_WIDTH = 2304
FRAME_WIDTH = 640  # what the appliance captures
CROP_PER_FACE = 1.186  # crop side / face-box side, emotion.json's crop scale
YAW_DEPTH = 0.25  # face half-width / viewing distance in the yaw model (a face's own depth)

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def crop_pixels(distance_m: float, frame_width: int = FRAME_WIDTH) -> float:
    """Camera pixels across the appliance's face crop at ``distance_m`` metres."""
    return CROP_PER_FACE * FACE_PX_AT_1M / distance_m * frame_width / REFERENCE_WIDTH


def resample(face: np.ndarray, pixels: float) -> np.ndarray:
    """The face seen through ``pixels`` camera pixels, back at its own size."""
    side = round(pixels)
    h, w = face.shape
    if side >= min(h, w):
        return face.copy()
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def add_noise(face: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian sensor noise of ``sigma`` grey levels."""
    noisy = face.astype(np.float32) + rng.normal(0.0, sigma, face.shape).astype(np.float32)
    return _to_uint8(noisy)


def apply_gamma(face: np.ndarray, gamma: float) -> np.ndarray:
    """Tone curve ``255 * (p / 255) ** gamma``: below 1 brightens, above 1 darkens."""
    table = 255.0 * (np.arange(256) / 255.0) ** gamma
    return _to_uint8(table)[face]


def side_light(face: np.ndarray, shadow: float, from_left: bool) -> np.ndarray:
    """Light from one side: the gain falls linearly from 1 to ``shadow`` across the face."""
    gain = np.linspace(1.0, shadow, face.shape[1], dtype=np.float32)
    if not from_left:
        gain = gain[::-1]
    return _to_uint8(face.astype(np.float32) * gain[None, :])


def blur(face: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels (defocus, motion, a cheap lens)."""
    return cv2.GaussianBlur(face, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)


def jpeg(face: np.ndarray, quality: int) -> np.ndarray:
    """The face after a JPEG round trip at ``quality``."""
    ok, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)


def yaw(face: np.ndarray, degrees: float) -> np.ndarray:
    """A head turned by ``degrees`` about the vertical axis, as a perspective squeeze.

    The face narrows to cos(angle) of its width and its far side shrinks in height as a plane
    ``YAW_DEPTH`` half-widths deep would; positive angles turn the right side away.
    """
    h, w = face.shape
    angle = math.radians(abs(degrees))
    half_w = w / 2 * math.cos(angle)
    far = (1 - YAW_DEPTH * math.sin(angle)) / (1 + YAW_DEPTH * math.sin(angle))
    # Pixel centres are at integers, so the image spans -0.5 .. w - 0.5 around (w - 1) / 2.
    cx, cy, half_h = (w - 1) / 2, (h - 1) / 2, h / 2
    near_x, far_x = (cx - half_w, cx + half_w) if degrees >= 0 else (cx + half_w, cx - half_w)
    left, right, top, bottom = -0.5, w - 0.5, -0.5, h - 0.5
    src = np.array([[left, top], [right, top], [right, bottom], [left, bottom]],
                   dtype=np.float32)
    if degrees < 0:
        src = src[[1, 0, 3, 2]]
    dst = np.array([[near_x, top], [far_x, cy - half_h * far], [far_x, cy + half_h * far],
                    [near_x, bottom]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(face, matrix, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def roll(face: np.ndarray, degrees: float) -> np.ndarray:
    """A head tilted by ``degrees`` in the image plane (edges replicated, as the crop does)."""
    h, w = face.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


@dataclass(frozen=True)
class Condition:
    """One row of the robustness suite: a name and the degradation applied to each face."""

    name: str
    apply: Degrade


def _distance(metres: float) -> Condition:
    px = crop_pixels(metres)
    note = "" if px < SIZE else ", no loss"
    return Condition(f"distance {metres:g} m (crop {px:.0f} px{note})",
                     lambda f, _r: resample(f, px))


def _noise(sigma: float) -> Condition:
    return Condition(f"sensor noise sigma {sigma:g}", lambda f, r: add_noise(f, sigma, r))


def _blur(sigma: float) -> Condition:
    return Condition(f"blur sigma {sigma:g} px", lambda f, _r: blur(f, sigma))


def _turn(kind: str, degrees: float) -> Condition:
    """Yaw or roll by ``degrees``, to the left or right at random (seeded) per face."""
    turn = yaw if kind == "yaw" else roll
    return Condition(f"{kind} {degrees:g} deg", lambda f, r: turn(f, degrees * _sign(r)))


SUITE: tuple[Condition, ...] = (
    *(_distance(d) for d in (1.0, 2.0, 3.0, 4.0)),
    *(_noise(s) for s in (5.0, 10.0, 15.0)),
    Condition("gamma 0.6", lambda f, _r: apply_gamma(f, 0.6)),
    Condition("gamma 1.6", lambda f, _r: apply_gamma(f, 1.6)),
    Condition("side light (gain 1 -> 0.4 across the face)",
              lambda f, r: side_light(f, 0.4, _sign(r) > 0)),
    *(_blur(s) for s in (1.0, 2.0, 3.0)),
    Condition("JPEG quality 70", lambda f, _r: jpeg(f, 70)),
    *(_turn("yaw", a) for a in (10.0, 20.0)),
    *(_turn("roll", a) for a in (10.0, 20.0)),
)


def apply_condition(condition: Condition, faces: np.ndarray, seed: int) -> np.ndarray:
    """Every face under ``condition``; the same seed gives the same faces."""
    rng = np.random.default_rng([seed, zlib.crc32(condition.name.encode())])
    return np.stack([condition.apply(face, rng) for face in faces])


def degrade_random(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the suite's kinds of degradation, at a random strength within its range."""
    kind = int(rng.integers(8))
    if kind == 0:
        return resample(face, crop_pixels(rng.uniform(1.0, 4.0)))
    if kind == 1:
        return add_noise(face, rng.uniform(2.0, 15.0), rng)
    if kind == 2:
        return apply_gamma(face, math.exp(rng.uniform(math.log(0.6), math.log(1.6))))
    if kind == 3:
        return side_light(face, rng.uniform(0.4, 0.9), rng.random() < 0.5)
    if kind == 4:
        return blur(face, rng.uniform(0.5, 3.0))
    if kind == 5:
        return jpeg(face, int(rng.integers(50, 96)))
    if kind == 6:
        return yaw(face, rng.uniform(-20.0, 20.0))
    return roll(face, rng.uniform(-20.0, 20.0))


def degrade_some(faces: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``faces`` in which each face is degraded with probability ``share``."""
    out = faces.copy()
    for i in np.flatnonzero(rng.random(len(faces)) < share):
        out[i] = degrade_random(faces[i], rng)
    return out
