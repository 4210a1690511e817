"""Resources and threads: compiles release what the previous one held, the inference session is
built once per model state whatever the number of threads, and a predict running while another
thread calls set_weights sees all old or all new weights."""
import gc
import threading

import numpy as np

from irgraph import optimizers, runtime

from reference import build_model, data


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_two_hundred_compiles_keep_memory_flat():
    x, y = data()
    model = build_model()
    sizes = {}
    for i in range(1, 201):
        model.compile(optimizers.SGD(0.01, momentum=0.5), "mse")
        model.train_on_batch(x[:8], y[:8])
        if i in (20, 200):
            gc.collect()
            sizes[i] = resident_mib()
    assert sizes[200] - sizes[20] < 8, f"resident memory grew from {sizes[20]:.1f} to {sizes[200]:.1f} MiB"


def test_a_new_compile_frees_the_previous_sessions():
    x, y = data()
    model = build_model()
    model.train_on_batch(x[:8], y[:8])
    old = model._trainer.session
    model.compile(optimizers.SGD(0.01), "mse")
    assert old.train is None and old.buffers is None  # released at once, not when collected
    assert all(v._owner is None for v in model.weights)


def test_concurrent_first_predicts_build_one_session(monkeypatch):
    model = build_model()
    x, _ = data()
    built = []
    real = runtime.make_session

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime, "make_session", counting)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def work():
        try:
            barrier.wait()
            results.append(model.predict(x, verbose=0))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert len(built) == 1
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_predict_concurrent_with_set_weights_sees_one_set():
    """Weight sets A and B give different outputs; while one thread alternates them with
    set_weights, every predict from another thread equals the A output or the B output."""
    model = build_model()
    x, _ = data(n=16)
    rng = np.random.default_rng(0)
    sets = [[rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()] for _ in range(2)]
    expected = []
    for s in sets:
        model.set_weights(s)
        expected.append(model.predict(x, verbose=0))
    stop = threading.Event()

    def flip():
        k = 0
        while not stop.is_set():
            model.set_weights(sets[k % 2])
            k += 1

    writer = threading.Thread(target=flip)
    writer.start()
    try:
        for _ in range(40):
            out = model.predict(x, verbose=0)
            assert any(np.array_equal(out, e) for e in expected), "a mix of old and new weights"
    finally:
        stop.set()
        writer.join()


def test_training_alone_never_builds_the_eval_step():
    x, y = data()
    model = build_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model._trainer.graphs._eval is None and model._trainer.session._eval is None
    loss = model.evaluate(x, y, verbose=0)
    assert model._trainer.graphs._eval is not None and np.isfinite(loss)
