"""The one place that imports a TFLite runtime and builds interpreters.

Two runtimes have the same API: ``ai-edge-litert`` (Python 3.10-3.14, numpy 1 or 2) and the
last ``tflite-runtime`` (2.14, Python <= 3.11, numpy < 2, as on Raspberry Pi OS Bookworm).
The first one found is used. Interpreters are cached per model file, so a process holds one
live interpreter per model: a second live tflite-runtime interpreter for the same model made
invokes about 25x slower on the development machine (see PLATFORM.md).

An interpreter is not thread-safe; the daemon thread alone runs the models.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import ModelError

log = logging.getLogger(__name__)

_INSTALL_FIX = (
    "install one: pip install 'ai-edge-litert>=2.3.0' (64-bit, any numpy) "
    "or pip install tflite-runtime==2.14.0 'numpy<2' (Python <= 3.11)"
)

_cache: dict[tuple[str, int, int], Any] = {}
_cache_lock = threading.Lock()


def runtime_name() -> str:
    """The name and version of the TFLite runtime this process uses, e.g. for benchmarks.

    Raises:
        ModelError: neither runtime is installed.
    """
    module = interpreter_class().__module__.split(".")[0]
    dist = module.replace("_", "-")
    try:
        return f"{dist} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return dist


def interpreter_class() -> type:
    """The ``Interpreter`` class of the first runtime found.

    Raises:
        ModelError: neither ``ai_edge_litert`` nor ``tflite_runtime`` can be imported.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(f"no TFLite runtime installed ({exc}); {_INSTALL_FIX}") from exc
    return Interpreter


def load_interpreter(path: Path, num_threads: int = 1) -> Any:
    """The allocated interpreter for a model file, built once per file per process.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads for the first (and only) build of this model's interpreter.

    Raises:
        ModelError: the file is missing, unreadable or not a TFLite model.
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _build(path, num_threads)
        return _cache[key]


def _build(path: Path, num_threads: int) -> Any:
    cls = interpreter_class()
    try:
        content = path.read_bytes()
        interpreter = cls(model_content=content, num_threads=num_threads)
        interpreter.allocate_tensors()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    except (ValueError, RuntimeError) as exc:
        # The runtimes raise ValueError for a bad flatbuffer and RuntimeError for ops they
        # do not know (e.g. a model converted by a newer TensorFlow than tflite-runtime 2.14).
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a usable TFLite model ({first})") from exc
    log.debug("loaded %s (%d bytes, %d thread(s))", path, len(content), num_threads)
    return interpreter


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Real values as the tensor's dtype, using the tensor's own scale and zero point.

    A float tensor (scale 0) takes the values unchanged.
    """
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if not scale:
        return values.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    q = np.round(values / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """A tensor's values as float32 reals, using its own scale and zero point."""
    scale, zero_point = detail["quantization"]
    if not scale:
        return values.astype(np.float32, copy=False)
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
