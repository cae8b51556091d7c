"""The emotion classifier: ``models/emotion.tflite`` and its contract ``models/emotion.json``.

The contract names the labels in output order, the input size and the real range of the
input (a grey pixel p in 0..255 becomes ``lo + p * (hi - lo) / 255``), the output kind and
the crop geometry. The crop is quantized with the input tensor's own scale and zero point
and the output dequantized with its own, so a re-exported model with other quantization
parameters needs no code change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import ModelError
from appliance.mood import runtime
from appliance.mood.crop import CropSpec
from appliance.mood.reading import LABELS

log = logging.getLogger(__name__)

#: The shipped model, in the ``models/`` folder beside the package.
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "emotion.tflite"
_OUTPUT_KINDS = ("probabilities", "logits")


@dataclass(frozen=True)
class Contract:
    """What ``emotion.json`` promises about the model.

    Attributes:
        labels: class names in output order.
        size: input side in pixels (square, one channel).
        input_range: real value of pixel 0 and of pixel 255.
        output_kind: ``"probabilities"`` or ``"logits"`` (softmax applied here).
        crop: how faces are cut out of frames.
        sha256: the model file's SHA-256 as exported, or ``""`` when not recorded.
        temperature: logits are divided by it before the softmax (fitted on faces the model
            was not trained on by ``scripts/measure_calibration.py``; 1 = as trained).
    """

    labels: tuple[str, ...]
    size: int
    input_range: tuple[float, float]
    output_kind: str
    crop: CropSpec
    sha256: str = ""
    temperature: float = 1.0


def read_contract(path: Path) -> Contract:
    """Reads and checks a model's ``emotion.json``.

    Raises:
        ModelError: the file is missing, not JSON, or breaks the contract.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        labels = tuple(str(label) for label in data["labels"])
        shape = data["input"]
        size, width, channels = int(shape["height"]), int(shape["width"]), int(shape["channels"])
        lo, hi = (float(v) for v in shape["range"])
        kind = str(data.get("output", {}).get("kind", "probabilities"))
        sha256 = str(data.get("sha256", ""))
        temperature = float(data.get("temperature", 1.0))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model contract ({exc.strerror})") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        raise ModelError(f"{path}: not a valid model contract ({why})") from exc
    unknown = sorted(set(labels) - set(LABELS))
    if unknown or len(set(labels)) != len(labels):
        raise ModelError(f"{path}: labels must be distinct names from {LABELS}; got {labels}")
    if size != width or channels != 1 or size < 8 or not lo < hi or kind not in _OUTPUT_KINDS:
        raise ModelError(
            f"{path}: input must be square grey with range [lo, hi], lo < hi, and output.kind "
            f"one of {_OUTPUT_KINDS}; got {shape} and {kind!r}"
        )
    if not 0.05 <= temperature <= 20:
        raise ModelError(f"{path}: temperature must be 0.05..20, got {temperature}")
    crop = CropSpec.from_contract(data.get("crop"), size, str(path))
    return Contract(labels, size, (lo, hi), kind, crop, sha256, temperature)


class EmotionClassifier:
    """One face crop in, probabilities in label order out; the interpreter is built once.

    Args:
        model_path: the ``.tflite`` file; its contract is the ``.json`` beside it.
        num_threads: interpreter threads.

    The shipped network already averages each face with its mirror image (see
    ``scripts/export_tflite.py``), so one invoke per face is the whole classification.

    Raises:
        ModelError: the model or contract is missing, corrupt, or the tensors do not match.
    """

    def __init__(self, model_path: Path | None = None, num_threads: int = 1) -> None:
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        self.contract = read_contract(self.model_path.with_suffix(".json"))
        # The runtime's default kernels (XNNPACK in ai-edge-litert): 4x (idle) to 13x faster
        # than the built-in ones on x86, the same top class on 99.5% of PublicTest; exact
        # agreement was never there across CPUs anyway (models/MODEL_CARD.md, "Kernels").
        self._interpreter = runtime.load_interpreter(
            self.model_path, num_threads, self.contract.sha256, exact=False
        )
        self._input, self._output = _check_tensors(
            self._interpreter, self.model_path, self.contract
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in the order of ``classify``'s output."""
        return self.contract.labels

    def classify(self, crop: np.ndarray) -> np.ndarray:
        """Probabilities (float32, in ``labels`` order) for one grey uint8 face crop, with the
        contract's temperature applied to logits.

        Raises:
            ValueError: the crop is not a grey image of the model's input size.
        """
        values = runtime.dequantize(self.raw_output(crop), self._output)
        if self.contract.output_kind != "logits":
            return values
        return softmax(values / np.float32(self.contract.temperature))

    def raw_output(self, crop: np.ndarray) -> np.ndarray:
        """The output tensor as the model gives it (int8 logits for the shipped model) for one
        grey uint8 face crop: what the contract's reference answers are compared with.

        Raises:
            ValueError: the crop is not a grey image of the model's input size.
        """
        size = self.contract.size
        if crop.shape != (size, size):
            raise ValueError(f"crop must be grey {size}x{size}, got shape {crop.shape}")
        tensor = quantize_crop(crop, self.contract.input_range, self._input)
        self._interpreter.set_tensor(self._input["index"], tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"])[0].copy()


def quantize_crop(
    crop: np.ndarray, input_range: tuple[float, float], detail: dict[str, Any]
) -> np.ndarray:
    """A grey uint8 crop as the input tensor: scaled to the real range, then quantized."""
    lo, hi = input_range
    real = lo + crop.astype(np.float32) * np.float32((hi - lo) / 255)
    return runtime.quantize(real, detail).reshape(detail["shape"])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, float32."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


def _check_tensors(interpreter: Any, path: Path, contract: Contract) -> tuple[dict, dict]:
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    want_in = (1, contract.size, contract.size, 1)
    want_out = (1, len(contract.labels))
    ok_types = (np.int8, np.uint8, np.float32)
    if (
        len(inputs) != 1
        or len(outputs) != 1
        or tuple(inputs[0]["shape"]) != want_in
        or tuple(outputs[0]["shape"]) != want_out
        or inputs[0]["dtype"] not in ok_types
        or outputs[0]["dtype"] not in ok_types
    ):
        got_in = [(tuple(d["shape"]), np.dtype(d["dtype"]).name) for d in inputs]
        got_out = [(tuple(d["shape"]), np.dtype(d["dtype"]).name) for d in outputs]
        raise ModelError(
            f"{path}: want one int8/uint8/float32 input {want_in} and output {want_out} "
            f"(from the .json beside it); the model has inputs {got_in}, outputs {got_out}"
        )
    log.info(
        "emotion model %s: %s in %s, %s out, labels %s",
        path.name, np.dtype(inputs[0]["dtype"]).name, want_in,
        np.dtype(outputs[0]["dtype"]).name, ",".join(contract.labels),
    )
    return inputs[0], outputs[0]
