"""The one place that imports a TFLite runtime and builds interpreters.

Two runtimes have the same API: ``ai-edge-litert`` (Python 3.10-3.14, numpy 1 or 2) and the
last ``tflite-runtime`` (2.14, Python <= 3.11, numpy < 2, as on Raspberry Pi OS Bookworm).
The first one found is used. Interpreters are cached per model file, so a process holds one
live interpreter per model: a second live tflite-runtime interpreter for the same model made
invokes about 25x slower on the development machine (see PLATFORM.md).

An interpreter is not thread-safe; each model is run by one thread only: the daemon thread runs
the mood models, the library scanner's thread the music tagger (``appliance.music.tagger``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
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

# (resolved path, mtime, size, exact) -> (interpreter, the file's SHA-256)
_cache: dict[tuple[str, int, int, bool], tuple[Any, str]] = {}
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


def load_interpreter(path: Path, num_threads: int = 1, sha256: str = "",
                     exact: bool = False) -> Any:
    """The allocated interpreter for a model file, built once per file per process.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads for the first (and only) build of this model's interpreter.
        sha256: the file's expected SHA-256 (hex); ``""`` = not checked.
        exact: run on the runtime's built-in kernels only, without the default XNNPACK
            delegate (for measurements: ``scripts/evaluate.py``). On x86_64 these gave the
            export's int8 answers exactly, but not on aarch64 (up to 2 steps); XNNPACK
            requantizes in float, moves logits by a few steps and is 4-13x faster (figures in
            models/MODEL_CARD.md), so the classifier uses the default.

    Raises:
        ModelError: the file is missing, unreadable, not the expected file, or not a model.
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, exact)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc
    with _cache_lock:
        if key in _cache:
            interpreter, digest = _cache[key]
            _check_digest(path, digest, sha256)
            return interpreter
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc
        digest = hashlib.sha256(content).hexdigest()
        _check_digest(path, digest, sha256)  # before the runtime ever sees a wrong file
        interpreter = _build(path, content, num_threads, exact)
        _cache[key] = (interpreter, digest)
        return interpreter


def forget(path: Path) -> None:
    """Drop this process's interpreters of a model file, so their memory can go back (the
    music tagger's XNNPACK buffers are about 100 MiB); the next ``load_interpreter`` builds
    a new one. The caller must hold no reference to them."""
    resolved = str(Path(path).resolve())
    with _cache_lock:
        for key in [k for k in _cache if k[0] == resolved]:
            del _cache[key]
    # glibc keeps large freed blocks on its heap once its mmap threshold has grown to their
    # size (measured: the tagger's 100 MiB stayed resident from the second release on);
    # malloc_trim hands them back. Other C libraries have no such call and need none.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _check_digest(path: Path, digest: str, expected: str) -> None:
    if expected and digest != expected.lower():
        raise ModelError(f"{path}: not the expected model file (its SHA-256 differs from "
                         f"{expected[:12]}...): corrupt, truncated or replaced")


def _build(path: Path, content: bytes, num_threads: int, exact: bool) -> Any:
    problem = flatbuffer_problem(content)
    if problem:
        raise ModelError(f"{path}: not a usable TFLite model ({problem}; truncated?)")
    cls = interpreter_class()
    options: dict[str, Any] = {}
    if exact:
        resolvers = sys.modules[cls.__module__].OpResolverType
        options["experimental_op_resolver_type"] = resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with _quiet_native_stderr():
            interpreter = cls(model_content=content, num_threads=num_threads, **options)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        # The runtimes raise ValueError for a bad flatbuffer and RuntimeError for ops they
        # do not know (e.g. a model converted by a newer TensorFlow than tflite-runtime 2.14).
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a usable TFLite model ({first})") from exc
    log.debug("loaded %s (%d bytes, %d thread(s), exact=%s)", path, len(content), num_threads,
              exact)
    return interpreter


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Drop the runtime's own C++ lines ("INFO: Created TensorFlow Lite XNNPACK delegate
    for CPU.") unless DEBUG logging is on (-vv): they go straight to file descriptor 2.

    While the interpreter is built, descriptor 2 points at a temporary file; afterwards every
    other line in it is written on to the real stderr. So what another thread logs in that
    window (a signal's log line, a scan's warning) arrives a moment late but is never lost,
    and a file, unlike a pipe, can never block a writer. Errors still arrive as exceptions.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, closed)
        yield
        return
    with tempfile.TemporaryFile() as held:
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            _pass_on(held.read())


def _pass_on(written: bytes) -> None:
    """Write ``written`` to stderr without the runtime's delegate lines."""
    kept = b"".join(line for line in written.splitlines(keepends=True)
                    if not line.startswith(_NATIVE_NOISE))
    if kept:
        with contextlib.suppress(OSError):
            os.write(2, kept)


#: The start of the runtime's informational lines that ``_quiet_native_stderr`` drops.
_NATIVE_NOISE = (b"INFO: Created TensorFlow Lite", b"INFO: Initialized TensorFlow Lite")


def flatbuffer_problem(content: bytes) -> str:
    """Why ``content`` cannot be a whole TFLite flatbuffer, or ``""`` if it may be one.

    tflite-runtime 2.14 does not verify a model before using it: a truncated file crashed the
    process (segmentation fault) instead of raising. This checks the file identifier and that
    the subgraphs, their tensors and operators, and the weight buffers lie inside the file,
    which catches truncation and most garbage. (ai-edge-litert verifies fully by itself.)
    """
    if len(content) < 16 or content[4:8] != b"TFL3":
        return "no TFL3 flatbuffer identifier"
    try:
        model = _table(content, _u32(content, 0))
        subgraphs = _tables(content, model, 2)
        if not subgraphs:
            return "no subgraph"
        for subgraph in subgraphs:
            _tables(content, subgraph, 0)  # tensors
            _tables(content, subgraph, 3)  # operators
        for buffer in _tables(content, model, 4):
            _vector(content, buffer, 0, 1)  # the weights' bytes
    except IndexError as exc:
        return str(exc)
    return ""


def _u32(content: bytes, pos: int) -> int:
    if not 0 <= pos <= len(content) - 4:
        raise IndexError(f"offset {pos} outside the {len(content)}-byte file")
    return int.from_bytes(content[pos : pos + 4], "little")


def _table(content: bytes, pos: int) -> tuple[int, list[int]]:
    """A flatbuffer table at ``pos``: its position and its field offsets (0 = absent)."""
    _u32(content, pos)
    vtable = pos - int.from_bytes(content[pos : pos + 4], "little", signed=True)
    _u32(content, vtable)
    vsize = int.from_bytes(content[vtable : vtable + 2], "little")
    if vsize < 4 or vtable + vsize > len(content):
        raise IndexError(f"the table at {pos} has its vtable outside the file")
    fields = [int.from_bytes(content[vtable + i : vtable + i + 2], "little")
              for i in range(4, vsize - 1, 2)]
    return pos, fields


def _vector(
    content: bytes, table: tuple[int, list[int]], field: int, item_size: int
) -> tuple[int, int]:
    """``(first item position, count)`` of a vector field, checked to lie in the file."""
    pos, fields = table
    if field >= len(fields) or not fields[field]:
        return 0, 0
    at = pos + fields[field]
    start = at + _u32(content, at)
    count = _u32(content, start)
    if start + 4 + count * item_size > len(content):
        raise IndexError(f"a vector of {count} items at {start} runs past the end of the file")
    return start + 4, count


def _tables(content: bytes, table: tuple[int, list[int]], field: int) -> list[tuple]:
    first, count = _vector(content, table, field, 4)
    return [_table(content, first + 4 * i + _u32(content, first + 4 * i)) for i in range(count)]


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
