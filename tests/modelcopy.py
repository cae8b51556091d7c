"""The shipped emotion model copied into a test's folder with a contract the test may change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from appliance.mood.classifier import DEFAULT_MODEL


def shipped_contract() -> dict:
    """A fresh copy of the shipped ``emotion.json``, to change without touching the file."""
    return json.loads(DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))


def model_copy(folder: Path, contract: dict | None = None, model: bytes | None = None) -> Path:
    """The shipped model (or ``model`` bytes) as ``folder/emotion.tflite`` with ``contract``
    (default: the shipped one) beside it; returns the .tflite path."""
    path = folder / "emotion.tflite"
    if model is None:
        shutil.copyfile(DEFAULT_MODEL, path)
    else:
        path.write_bytes(model)
    path.with_suffix(".json").write_text(json.dumps(contract or shipped_contract()))
    return path
