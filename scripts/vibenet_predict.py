"""vibenet 0.1.0's zero-shot valence and energy for audio files (the baseline of evaluate_music.py).

Runs only in a separate venv that has ``vibenet`` (GPL-3.0; it pulls onnxruntime, librosa and
numba), never the appliance's. ``evaluate_music.py`` starts it with that venv's Python:

    python vibenet_predict.py < paths.txt > predictions.jsonl

Reads one path per line on stdin and writes one JSON line per path on stdout:
``{"path", "valence", "energy", "seconds"}`` (``seconds``: CPU time of that file), or
``{"path", "error"}``. It imports nothing from the appliance.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    """Predict every path read from stdin; returns the exit code."""
    import vibenet  # here: the module must be importable for its docstring without vibenet

    model = vibenet.load_model()
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        started = time.process_time()
        try:
            result = model.predict(path)[0].to_dict()
        except Exception as exc:  # a baseline's failure is reported, not fatal
            print(json.dumps({"path": path, "error": str(exc)}), flush=True)
            continue
        seconds = time.process_time() - started
        print(json.dumps({"path": path, "valence": result["valence"], "energy": result["energy"],
                          "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
