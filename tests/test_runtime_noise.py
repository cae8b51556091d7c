"""The TFLite runtime's own stderr lines are hidden unless DEBUG logging (-vv) is on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.runtime

MODEL = Path(__file__).resolve().parents[1] / "models" / "emotion.tflite"
SCRIPT = """
import logging, sys
if sys.argv[1] == "debug":
    logging.basicConfig(level=logging.DEBUG)
from appliance.mood import runtime
runtime.load_interpreter(sys.argv[2], exact=False)
print("still writes to stderr", file=sys.stderr)
"""


@pytest.mark.parametrize(("level", "shown"), [("quiet", False), ("debug", True)])
def test_xnnpack_line_only_at_debug(level: str, shown: bool) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, level, str(MODEL)],
                          capture_output=True, text=True, check=True)
    assert "still writes to stderr" in done.stderr
    if not shown:
        assert "XNNPACK" not in done.stderr, done.stderr
    # tflite-runtime 2.14 does not print the line, and XNNPACK does not start where cpuinfo
    # cannot read /sys (emulated arm64 roots: the model then runs on the built-in kernels).
    elif "ai-edge-litert" in _runtime() and "Error in cpuinfo" not in done.stderr:
        assert "XNNPACK" in done.stderr, done.stderr


def _runtime() -> str:
    from appliance.mood import runtime

    return runtime.runtime_name()


def test_what_others_write_while_the_model_loads_is_kept(tmp_path: Path) -> None:
    # A daemon's other threads (and signal handlers) log while a model loads; only the
    # runtime's own lines may be dropped, never theirs.
    script = """
import sys
from appliance.mood import runtime
with runtime._quiet_native_stderr():
    print("a signal's log line", file=sys.stderr)
    sys.stderr.flush()
    import os
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
print("after", file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stderr.splitlines() == ["a signal's log line", "after"]
