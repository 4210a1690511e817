"""Seed 004's generative programs (examples/deep_dream.py, examples/style_transfer.py) run offline at
32 x 32 with random VGG16 weights (or a local file in Keras's layout) and write their images; deep
dream's loss rises over its steps, style transfer's falls over the seed's gradient steps and over an
L-BFGS round; the seeds' channels_first branches give the channels_last losses."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = "32"


def _run(script, tmp_path, *args, timeout=300):
    out = tmp_path / "out"
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "keras_home"),  # no local imagenet file: random weights
               MPLCONFIGDIR=str(tmp_path / "mpl"))
    env.pop("MPLBACKEND", None)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), "--size", SIZE,
                           "--data-dir", str(tmp_path / "no_data"), "--out", str(out), *args],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, out


def _image(path):
    from irgraph.utils import img_to_array, load_img
    return img_to_array(load_img(path))


def _dream_losses(stdout):
    losses = {}
    for layer, step, value in re.findall(r"^(block\d_pool) step (\d): loss (\S+)$", stdout, re.M):
        losses.setdefault(layer, []).append(float(value))
    return losses


@pytest.fixture(scope="module")
def dream_run(tmp_path_factory):
    """One run of deep dream as a user without Keras's weight file starts it (random weights)."""
    return _run("deep_dream.py", tmp_path_factory.mktemp("dream"), "--weights", "auto")


def test_deep_dream_runs_and_climbs(dream_run):
    stdout, out = dream_run
    assert "VGG16 gets random weights" in stdout  # --weights auto without Keras's file
    assert "a synthetic 32x32 cat picture" in stdout
    losses = _dream_losses(stdout)
    assert list(losses) == [f"block{i}_pool" for i in range(1, 6)], stdout
    for layer, values in losses.items():
        assert len(values) == 3
        assert values[0] < values[1] < values[2], (layer, values)  # gradient ascent on the mean activation
    original = _image(out / "data" / "cat.jpg")
    assert original.shape == (32, 32, 3)
    for i in range(1, 6):
        assert (out / f"block{i}_pool.png").stat().st_size > 0  # the seed's figure
        steps = [_image(out / f"block{i}_pool_step{s}.png") for s in range(3)]
        assert all(s.shape == (32, 32, 3) for s in steps)
        # each step moves the image further from the original
        dist = [np.abs(s - original).mean() for s in steps]
        assert dist[0] < dist[2], (i, dist)
    assert (out / "input.png").exists()


def test_deep_dream_noise_and_single_filter(tmp_path):
    """The seed's last experiment: the noise image and the loss of filter 24 alone (a non-scalar loss,
    differentiated as its sum, as tf.gradients does)."""
    stdout, out = _run("deep_dream.py", tmp_path, "--weights", "none", "--noise", "--elephant", "--no-figures")
    losses = _dream_losses(stdout)
    assert len(losses) == 5
    for layer, values in losses.items():
        assert values[0] < values[2], (layer, values)
    assert not (out / "input_noise.png").exists() and not (out / "block1_pool.png").exists()  # --no-figures
    noise = _image(out / "block1_pool_step0.png")
    assert noise.shape == (32, 32, 3)


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    """One run of style transfer ('tf' ordering, the seed's 5 steps, then 1 L-BFGS round)."""
    return _run("style_transfer.py", tmp_path_factory.mktemp("style"), "--weights", "none", "--lbfgs", "1",
                "--no-figures")


def test_style_transfer_runs_and_descends(style_run):
    stdout, out = style_run
    seed_losses = [float(v) for v in re.findall(r"^loss (\S+)$", stdout, re.M)]
    assert len(seed_losses) == 5, stdout  # NUM_ITERATIONS = 5
    assert all(b < a for a, b in zip(seed_losses, seed_losses[1:])), seed_losses  # gradient descent
    start = float(re.search(r"^L-BFGS start: loss (\S+)$", stdout, re.M).group(1))
    rounds = [float(v) for v in re.findall(r"^L-BFGS round 1/1: loss (\S+)$", stdout, re.M)]
    assert len(rounds) == 1
    assert start < seed_losses[-1]  # the seed's 5th step lowered it again
    assert rounds[0] < 0.9 * start, (start, rounds)  # 20 evaluations of f
    assert not (out / "content_style.png").exists()  # --no-figures
    for name in ["epoch%d.png" % i for i in range(1, 6)] + ["lbfgs1.png"]:
        assert _image(out / name).shape == (32, 32, 3)
    content = _image(out / "data" / "cat.jpg")
    # the seed's five small steps stay close to the content image; L-BFGS moves it
    assert np.abs(_image(out / "epoch5.png") - content).mean() < np.abs(_image(out / "lbfgs1.png") - content).mean()


def test_style_transfer_channels_first_gives_the_same_losses(tmp_path, style_run):
    """The seed's 'th' branches (channels_first images, Gram matrices and variation loss) give the
    losses of the default 'tf' ordering: same random weights, same images."""
    stdout, out = _run("style_transfer.py", tmp_path, "--weights", "none", "--no-figures", "--dim-ordering", "th")
    th = [float(v) for v in re.findall(r"^loss (\S+)$", stdout, re.M)]
    tf = [float(v) for v in re.findall(r"^loss (\S+)$", style_run[0], re.M)]
    assert len(th) == 5
    np.testing.assert_allclose(th, tf, rtol=1e-4)
    np.testing.assert_allclose(_image(out / "epoch5.png"), _image(style_run[1] / "epoch5.png"), atol=1)


def test_deep_dream_reads_the_local_imagenet_file(tmp_path, dream_run):
    """With Keras's file in $KERAS_HOME/models, --weights auto loads it (weights="imagenet"). The file
    holds the example's own seed-0 random kernels times 2 (zero biases): block1_pool's mean activation
    is then exactly 4 times the random run's."""
    h5py = pytest.importorskip("h5py")
    import irgraph
    from irgraph.applications import vgg16
    gi = _generative_inputs()
    irgraph.clear_session()
    irgraph.set_seed(0)
    model = vgg16.VGG16(input_tensor=irgraph.Input(batch_shape=(1, 32, 32, 3)), weights=None, include_top=False)
    models = tmp_path / "keras_home" / "models"  # what _run sets KERAS_HOME to
    models.mkdir(parents=True)
    with h5py.File(models / gi.VGG16_NOTOP_FILE, "w") as f:  # Keras 2's published layout
        f.attrs["layer_names"] = np.array([lyr.name.encode() for lyr in model.layers])
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.1.6"
        for lyr in model.layers:
            g = f.create_group(lyr.name)
            kinds = ["kernel", "bias"][:len(lyr.weights)]
            g.attrs["weight_names"] = np.array([f"{lyr.name}/{k}:0".encode() for k in kinds], dtype="S")
            for k, w in zip(kinds, lyr.get_weights()):
                g.create_dataset(f"{lyr.name}/{k}:0", data=w * 2 if k == "kernel" else w)
    assert all(not np.any(lyr.get_weights()[1]) for lyr in model.layers if lyr.weights)  # zero biases
    stdout, out = _run("deep_dream.py", tmp_path, "--weights", "auto", "--no-figures")
    assert "random weights" not in stdout
    mine, random_run = _dream_losses(stdout), _dream_losses(dream_run[0])
    assert mine["block1_pool"][0] == pytest.approx(4 * random_run["block1_pool"][0], rel=1e-4)
    assert (out / "block5_pool_step2.png").exists()


def _generative_inputs():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import generative_inputs
    finally:
        sys.path.pop(0)
    return generative_inputs


def test_local_images_are_used_resized(tmp_path):
    """Images in --data-dir are read (resized to --size with load_img, or copied) instead of drawn."""
    from irgraph.utils import save_img
    gi = _generative_inputs()
    data = tmp_path / "data"
    data.mkdir()
    cat = np.random.default_rng(0).integers(0, 256, (48, 40, 3)).astype("uint8")
    save_img(data / "cat.png", cat, scale=False)
    files = {"cat.png": "cat", "style.jpg": "painting"}
    # all there, no size: the folder itself
    assert gi.prepare_images({"cat.png": "cat"}, str(data), str(tmp_path / "o1")) == str(data)
    # one missing: a folder with a copy of the one and a synthetic other
    folder = gi.prepare_images(files, str(data), str(tmp_path / "o2"), synthetic_size=24)
    np.testing.assert_array_equal(_image(os.path.join(folder, "cat.png")), cat)
    assert _image(os.path.join(folder, "style.jpg")).shape == (24, 24, 3)
    # a size: resized copies
    folder = gi.prepare_images(files, str(data), str(tmp_path / "o3"), size=16)
    assert _image(os.path.join(folder, "cat.png")).shape == (16, 16, 3)
    assert _image(os.path.join(folder, "style.jpg")).shape == (16, 16, 3)


def test_weights_switch(tmp_path, monkeypatch):
    gi = _generative_inputs()
    home = tmp_path / "kh"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    assert gi.choose_weights("none") is None
    assert gi.choose_weights("imagenet") == "imagenet"
    assert gi.choose_weights("auto") is None
    (home / "models" / gi.VGG16_NOTOP_FILE).write_bytes(b"")
    assert gi.choose_weights("auto") == "imagenet"
    path = tmp_path / "w.h5"
    path.write_bytes(b"")
    assert gi.choose_weights(str(path)) == str(path)
    with pytest.raises(SystemExit, match="no file"):
        gi.choose_weights(str(tmp_path / "missing.h5"))
