"""Training on real bundled data sets (scikit-learn's digits and diabetes)."""
import os
import sys

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import irgraph
from irgraph.layers import Dense, Input
from irgraph.models import Model

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import train_digits  # noqa: E402


def test_digits_convnet_reaches_97_percent():
    irgraph.set_seed(0)
    x_train, x_test, y_train, y_test = train_digits.load_data()
    model = train_digits.build_model()
    train_digits.compile_model(model)
    history = model.fit(x_train, y_train, batch_size=32, epochs=20, verbose=0, validation_split=0.1)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc >= 0.97, acc
    pred = model.predict(x_test, verbose=0)
    assert np.mean(pred.argmax(1) == y_test) == acc


def test_seed_regression_network_lowers_validation_mse_on_diabetes():
    irgraph.set_seed(0)
    data = load_diabetes()
    x = StandardScaler().fit_transform(data.data).astype(np.float32)
    y = ((data.target - data.target.mean()) / data.target.std()).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    readings = Input(shape=(10,))
    h = Dense(8, activation="relu", kernel_initializer="glorot_uniform")(readings)
    out = Dense(1, kernel_initializer="glorot_uniform")(h)
    model = Model(inputs=[readings], outputs=[out])
    model.compile(loss="mse", optimizer="adam")
    before = model.evaluate(x_test, y_test, verbose=0)
    history = model.fit(x_train, y_train, batch_size=10, epochs=20, validation_split=0.2, verbose=0)
    val = history.history["val_loss"]
    assert val[-1] < val[0] * 0.8, val
    after = model.evaluate(x_test, y_test, verbose=0)
    assert after < before * 0.7 and after < 0.8, (before, after)


def test_exported_train_step_alone_trains_like_fit():
    """The train-step ONNX file and a plain onnxruntime loop (no irgraph) reach fit's weights."""
    irgraph.set_seed(1)
    x = Input(shape=(4,), name="x")
    model = Model(x, Dense(3, activation="softmax", name="probs")(Dense(8, activation="tanh")(x)))
    init = {v.path: v.numpy().copy() for v in model.weights}
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    model.compile(irgraph.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(xs, ys, batch_size=16, epochs=2, shuffle=False, verbose=0)
    step_file = model.export_training()

    # ---- 30 lines of plain onnxruntime: everything below knows nothing of irgraph ----
    sess = ort.InferenceSession(step_file.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    state = {n: init[n] for n in names if n in init}
    state.update({n: np.zeros_like(init[n.rsplit(":", 1)[0]]) for n in names if n.endswith(":momentum")})
    step = 0
    for epoch in range(2):
        for b in range(0, 64, 16):
            feeds = dict(state, x=xs[b:b + 16], probs_true=ys[b:b + 16].astype(np.int64),
                         probs_sample_weight=np.ones(16, np.float32),
                         lr=np.array(0.1, np.float32), step=np.array(step, np.float32))
            outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
            state = {n: outs.get(f"{n}:new", v) for n, v in state.items()}
            step += 1
    # ---- end of the plain loop ----
    for v in model.weights:
        np.testing.assert_allclose(state[v.path], v.numpy(), rtol=1e-5, atol=1e-6)
