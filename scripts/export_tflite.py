"""Converts a trained Keras model to a full-integer int8 TFLite model plus its contract.

    python scripts/export_tflite.py --keras build/train/best.keras \
        --data fer2013_train_publictest.npz --out models/

Runs on the CPU with TensorFlow (the converter has no other home). Writes
``OUT/emotion.tflite`` (int8 input and output, calibrated on training faces) and
``OUT/emotion.json``: labels, input shape and range, the crop recipe, a reference output, the
file's sha256, and float vs int8 scores on PublicTest.

Several ``--keras`` models become one network that averages their logits, and each is run on
the face and its mirror image (unless ``--no-flip``): test-time augmentation inside the file,
so the runtime and any evaluator get it from one invoke. An existing ``crop`` object in
``OUT/emotion.json`` is kept, since the mood check measured it, and so are the reference
answers' ``tolerance_steps`` and ``tolerance_note`` (a property of the runtimes); the
``temperature`` is not, since it belongs to the network: ``measure_calibration.py --write``
fits the new one on the Validation split. Dynamic-range models are never
written: tflite-runtime 2.14 cannot load them (FULLY_CONNECTED version 12). The model ends
in int8 logits; the runtime applies the softmax (see ``without_softmax``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
import ferdata  # noqa: E402

from appliance.mood.reference import DEFAULT_TOLERANCE_STEPS, reference_faces  # noqa: E402

INPUT_RANGE = (0.0, 1.0)  # train.py feeds pixels / 255
DEFAULT_CROP = {"detector": "blazeface_short_range", "scale": 1.6, "shift_y": 0.0,
                "align_eyes": True}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--keras", type=Path, nargs="+", required=True,
                   help="trained model(s) (.keras); several are averaged into one network")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="do not average each network over the face and its mirror image")
    p.add_argument("--data", type=Path, required=True, help="npz or fer2013.csv")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--calibration", type=int, default=500, help="training faces to calibrate")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def without_softmax(model):
    """The same network ending in logits.

    The int8 softmax kernel of tflite-runtime 2.14 differs from newer runtimes by up to 5
    output steps on the same input, while int8 logits agree within one step; the appliance
    applies the softmax itself after dequantising.
    """
    import keras

    model.layers[-1].activation = keras.activations.linear
    return model


def combined(models: list, flip: bool):
    """One network averaging the logits of every model, on the face and, with ``flip``, its
    mirror image: the test-time augmentation lives inside the file, so every runtime and
    evaluator gets it from one invoke."""
    import keras

    inp = keras.Input((48, 48, 1), name="face")
    views = [inp, keras.layers.Lambda(lambda x: keras.ops.flip(x, axis=2), name="mirror")(inp)]
    outs = []
    for i, model in enumerate(models):
        model.name = f"net{i + 1}"
        outs += [model(view) for view in views[: 2 if flip else 1]]
    out = outs[0] if len(outs) == 1 else keras.layers.Average(name="logits")(outs)
    return keras.Model(inp, out, name="emotion")


def convert(model, calibration: np.ndarray) -> bytes:
    """Full-integer conversion: int8 weights, activations, input and output."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for face in calibration:
            yield [face[None, :, :, None].astype(np.float32) / 255.0]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def int8_outputs(tflite: bytes, faces: np.ndarray) -> np.ndarray:
    """Runs the int8 model on uint8 faces; returns the raw int8 outputs (N, 7)."""
    import tensorflow as tf

    # Built-in kernels, as the appliance runs the model (appliance.mood.runtime, exact=True):
    # XNNPACK's float requantization would give other reference answers.
    builtin = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = tf.lite.Interpreter(model_content=tflite, num_threads=1,
                                      experimental_op_resolver_type=builtin)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
        raise SystemExit(f"conversion gave {inp['dtype']} in, {out['dtype']} out; want int8")
    in_scale, in_zero = inp["quantization"]
    raw = np.empty((len(faces), 7), dtype=np.int8)
    for i, face in enumerate(faces):
        x = face.astype(np.float32) / 255.0
        q = np.clip(np.round(x / in_scale + in_zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], q[None, :, :, None])
        interpreter.invoke()
        raw[i] = interpreter.get_tensor(out["index"])[0]
    return raw


def count_macs(model) -> int:
    """Multiply-accumulates of one inference of a trained network (conv and dense layers)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "SeparableConv2D"):
            _, h, w, c_out = layer.output.shape
            k_h, k_w = layer.kernel_size
            c_in = layer.input.shape[-1]
            # Separable: a depthwise k x k conv per input channel, then a 1x1 conv.
            total += h * w * (c_in * k_h * k_w + c_in * c_out if kind == "SeparableConv2D"
                              else c_out * k_h * k_w * c_in)
        elif kind == "Dense":
            total += layer.input.shape[-1] * layer.units
    return int(total)


def contract(model, tflite: bytes, previous: dict, evaluation: dict, network: dict,
             macs: int) -> dict:
    """The emotion.json contract that the runtime and any evaluator read."""
    return {
        "labels": list(ferdata.LABELS),
        "input": {"height": 48, "width": 48, "channels": 1, "range": list(INPUT_RANGE),
                  "dtype": "int8"},
        "output": {"kind": "logits", "dtype": "int8",
                   "note": "dequantise with the tensor's scale and zero point, then softmax"},
        "crop": previous.get("crop", DEFAULT_CROP),
        "network": network,
        "reference": reference(tflite, previous.get("reference", {})),
        "file": "emotion.tflite",
        "sha256": hashlib.sha256(tflite).hexdigest(),
        "bytes": len(tflite),
        "params": int(model.count_params()),
        "macs": macs,
        "evaluation": evaluation,
    }


def reference(tflite: bytes, previous: dict) -> dict:
    """The answers on the reference images, the previous contract's tolerance, and the first
    measurement: the converter's own interpreter, which recorded them."""
    import tensorflow as tf

    return {"inputs": "appliance.mood.reference.reference_faces()",
            "int8_outputs": int8_outputs(tflite, reference_faces()).tolist(),
            "tolerance_steps": int(previous.get("tolerance_steps", DEFAULT_TOLERANCE_STEPS)),
            "tolerance_note": previous.get("tolerance_note", "the largest difference a "
                                           "runtime may show before moodbox doctor fails it"),
            "measured": [{"runtime": f"tensorflow {tf.__version__}",
                          "machine": platform.machine(), "kernels": "built-in",
                          "max_steps": 0, "note": "recorded these answers at export"}]}


def predict(model, test: ferdata.Split) -> np.ndarray:
    """The float Keras model's outputs (logits) for the test faces."""
    return model.predict(test.images[..., None].astype(np.float32) / 255.0, verbose=0)


def evaluate(float_logits: np.ndarray, tflite: bytes, test: ferdata.Split) -> dict:
    """Float and int8 scores on the test faces, and how often the two agree."""
    int8_raw = int8_outputs(tflite, test.images)  # argmax is the same on raw int8
    agree = float((float_logits.argmax(1) == int8_raw.argmax(1)).mean())
    return {
        "split": "PublicTest",
        "faces": len(test.labels),
        "float": ferdata.scores(test.labels, float_logits.argmax(1)),
        "int8": ferdata.scores(test.labels, int8_raw.argmax(1)),
        "int8_float_agreement": round(agree, 4),
    }


def calibration_faces(data: Path, count: int, seed: int) -> np.ndarray:
    """``count`` Training faces drawn without replacement by a generator seeded ``seed``:
    the faces whose activations set the int8 ranges."""
    faces = ferdata.load_split(data, "Training").images
    return faces[np.random.default_rng(seed).choice(len(faces), count, replace=False)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import keras

    models = [without_softmax(keras.models.load_model(path)) for path in args.keras]
    model = combined(models, args.flip)
    test = ferdata.load_split(args.data, "PublicTest")
    float_logits = predict(model, test)
    tflite = convert(model, calibration_faces(args.data, args.calibration, args.seed))
    evaluation = evaluate(float_logits, tflite, test)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "emotion.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    (args.out / "emotion.tflite").write_bytes(tflite)
    network = {"nets": len(models), "mirror_averaged": args.flip,
               "note": "logits averaged over every net and, if mirror_averaged, over the face "
                       "and its mirror image, inside the file: do not flip again"}
    views = 2 if args.flip else 1  # each net runs once per view
    macs = views * sum(count_macs(m) for m in models)
    json_path.write_text(json.dumps(contract(model, tflite, previous, evaluation, network, macs),
                                    indent=2) + "\n")
    for kind in ("float", "int8"):
        s = evaluation[kind]
        print(f"{kind:5s} accuracy {s['accuracy']:.4f} macro-F1 {s['macro_f1']:.4f}")
    print(f"int8/float agreement {evaluation['int8_float_agreement']:.4f}; "
          f"{len(tflite)} bytes written to {args.out / 'emotion.tflite'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
