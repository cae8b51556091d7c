"""Convert musicnn's pre-trained MSD_musicnn tagger to ``models/musicnn-msd.tflite``.

    python3 -m venv build/venv-musicnn
    build/venv-musicnn/bin/pip install "tensorflow==2.21.*" tf_keras
    build/venv-musicnn/bin/pip install --no-deps musicnn==0.1.0   # ISC; the weights are in it
    build/venv-musicnn/bin/python scripts/convert_musicnn.py [--out models/musicnn-msd.tflite]

The wheel's own ``models.py`` rebuilds the graph in inference mode (batch norm from its moving
statistics, no dropout) for one 3-s patch (187 frames x 96 mel bands), the checkpoint is
restored into it, and ``TFLiteConverter.from_session`` writes a float32 file with two outputs,
``tags`` (50 sigmoid likelihoods) and ``penultimate`` (the 200-unit layer the valence model
reads). It then checks the file against the session on a random patch. Not needed on the box.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.compat.v1.layers needs tf_keras under TF 2.16+


def main(argv: list[str] | None = None) -> int:
    """Convert, write and check the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "musicnn-msd.tflite")
    args = parser.parse_args(argv)
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [1, 187, 96], name="logmel")
        outputs = models.define_model(x, False, "MSD_musicnn", 50)
    tags = tf.nn.sigmoid(outputs[0], name="tags")
    penultimate = tf.identity(outputs[8], name="penultimate")
    session = tf.compat.v1.Session()
    checkpoint = Path(models.__file__).parent / "MSD_musicnn"
    tf.compat.v1.train.Saver().restore(session, f"{checkpoint}/")
    converter = tf.compat.v1.lite.TFLiteConverter.from_session(session, [x], [tags, penultimate])
    blob = converter.convert()
    args.out.write_bytes(blob)
    probe = np.random.default_rng(0).uniform(0, 3, (1, 187, 96)).astype(np.float32)
    expected = session.run({"tags": tags, "penultimate": penultimate}, {x: probe})
    interpreter = tf.lite.Interpreter(model_content=blob)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], probe)
    interpreter.invoke()
    for detail in interpreter.get_output_details():
        got = interpreter.get_tensor(detail["index"])
        error = float(np.abs(got - expected[detail["name"]]).max())
        shape = tuple(int(n) for n in detail["shape"])
        print(f"{detail['name']} {shape}: max difference {error:.1e}")
    print(f"wrote {args.out} ({len(blob)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
