"""The TFLite runtime's own stderr lines are hidden unless DEBUG logging (-vv) is on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.runtime

MODEL = Path(__file__).resolve().parents[1] / "models" / "emotion.tflite"
# Prints on stdout whether the default XNNPACK delegate took over the model: a delegate shows
# in the execution plan as a DELEGATE node (ai-edge-litert on x86_64 and on a Pi). It does
# not where XNNPACK does not start: tflite-runtime 2.14's x86_64 wheel, and under qemu-user,
# whose /sys cpuinfo cannot parse ("Error in cpuinfo"), so the built-in kernels run the model.
SCRIPT = """
import logging, sys
if sys.argv[1] == "debug":
    logging.basicConfig(level=logging.DEBUG)
from appliance.mood import runtime
interpreter = runtime.load_interpreter(sys.argv[2], exact=False)
print("still writes to stderr", file=sys.stderr)
delegated = any(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
print("xnnpack" if delegated else "no-delegate", runtime.runtime_name())
"""


@pytest.mark.parametrize(("level", "shown"), [("quiet", False), ("debug", True)])
def test_xnnpack_line_only_at_debug(level: str, shown: bool) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, level, str(MODEL)],
                          capture_output=True, text=True, check=True)
    assert "still writes to stderr" in done.stderr
    if not shown:
        assert "XNNPACK" not in done.stderr, done.stderr
        return
    started, runtime_name = done.stdout.strip().split(" ", 1)
    if started != "xnnpack":
        pytest.skip(f"XNNPACK did not start in {runtime_name} here (no DELEGATE node in the "
                    "execution plan), so there is no delegate line to show")
    assert "Created TensorFlow Lite XNNPACK delegate" in done.stderr, done.stderr


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
