"""The main job, end to end: build a conv net with the functional API, train it in onnxruntime on
scikit-learn's bundled handwritten digits, evaluate it, export the inference and train-step ONNX
files, check that a plain onnxruntime session predicts the same, and show the inspection summary.

    python examples/train_digits.py [--epochs 20] [--out out/digits]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import irgraph  # noqa: E402
from irgraph.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D  # noqa: E402
from irgraph.models import Model  # noqa: E402


def load_data(seed: int = 0):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1) in [0, 1]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def build_model():
    image = Input(shape=(8, 8, 1), name="image")
    x = Conv2D(32, (3, 3), padding="same", activation="relu")(image)
    x = Conv2D(32, (3, 3), activation="relu")(x)
    x = MaxPooling2D((2, 2))(x)
    x = Flatten()(x)
    x = Dense(64, activation="relu")(x)
    x = Dropout(0.25)(x)
    digit = Dense(10, activation="softmax", name="digit")(x)
    return Model(image, digit, name="digits_convnet")


def compile_model(model):
    model.compile(optimizer=irgraph.optimizers.Adam(learning_rate=0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="out/digits")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    irgraph.set_seed(0)

    x_train, x_test, y_train, y_test = load_data()
    model = build_model()
    model.summary()
    compile_model(model)
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1, verbose=1)
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"\ntrained {args.epochs} epochs in {seconds:.1f}s "
          f"({len(x_train) * 0.9 * args.epochs / seconds:,.0f} samples/s); "
          f"test loss {loss:.4f}, test accuracy {acc:.4f}; history keys {sorted(history.history)}")

    path = os.path.join(args.out, "digits.onnx")
    model.save(path)
    model.export_training(os.path.join(args.out, "digits_train_step.onnx"))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    bare = sess.run(None, {"image": x_test})[0]
    ours = model.predict(x_test, verbose=0)
    print(f"bare onnxruntime session on {path}: max |difference| = {np.abs(bare - ours).max():.2e}, "
          f"accuracy {np.mean(bare.argmax(1) == y_test):.4f}")
    print(f"wrote {path} (inference, weights and training state) and "
          f"{os.path.join(args.out, 'digits_train_step.onnx')} (one training step)\n")
    from irgraph.tools.inspect import onnx_summary
    import onnx
    print(onnx_summary(onnx.load(path)), end="")
    return 0 if acc >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
