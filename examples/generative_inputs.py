"""Shared preamble helpers of examples/deep_dream.py and examples/style_transfer.py (not seed code):
choosing VGG16's weights offline and preparing the input pictures."""
import os

import numpy as np

VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the file Keras downloads


def keras_models_dir():
    """Where Keras keeps downloaded weights: $KERAS_HOME/models, else ~/.keras/models."""
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"), "models")


def choose_weights(arg):
    """``--weights`` as VGG16's ``weights=`` argument (None: random initialisation)."""
    if arg == "none":
        return None
    if arg == "imagenet":
        return "imagenet"
    if arg == "auto":
        if os.path.exists(os.path.join(keras_models_dir(), VGG16_NOTOP_FILE)):
            return "imagenet"
        print("note: %s is not in %s: VGG16 gets random weights (pass --weights PATH to use a local file)"
              % (VGG16_NOTOP_FILE, keras_models_dir()))
        return None
    if not os.path.exists(arg):
        raise SystemExit("--weights: no file %r" % arg)
    return arg


def synthetic_picture(size, kind="cat", seed=0):
    """A size x size uint8 RGB picture with edges and textures for the network to amplify: a cat-like
    face (head, ears, eyes, nose, whiskers) on a gradient ("cat"), or brush-stroke bands ("painting")."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(size - 1, 1)
    rng = np.random.default_rng(seed)
    if kind == "painting":
        img = np.stack([0.35 + 0.3 * np.sin(9 * xx + 4 * yy), 0.55 + 0.3 * np.sin(7 * yy - 3 * xx + 1.0),
                        0.6 + 0.3 * np.cos(11 * (xx + yy))], axis=-1)
        img += 0.07 * np.sin(70 * (0.8 * xx + 0.6 * yy) + 3 * np.sin(13 * yy))[..., None]  # strokes
        img += 0.02 * rng.standard_normal((size, size, 3))
        return (np.clip(img, 0, 1) * 255).astype(np.uint8)
    img = np.stack([0.25 + 0.5 * yy, 0.45 + 0.3 * xx, 0.75 - 0.4 * yy], axis=-1)  # sky-like background
    head = (xx - 0.5) ** 2 + ((yy - 0.58) / 0.9) ** 2 < 0.3 ** 2
    img[head] = (0.85, 0.55, 0.25)  # orange fur
    img[head & (np.sin(40 * xx) > 0.6)] = (0.65, 0.35, 0.15)  # stripes
    for cx in (0.3, 0.7):  # ears: triangles above the head
        ear = (yy > 0.12) & (yy < 0.38) & (np.abs(xx - cx) < (yy - 0.12) * 0.6)
        img[ear] = (0.85, 0.55, 0.25)
        eye = (xx - (0.4 if cx < 0.5 else 0.6)) ** 2 + (yy - 0.52) ** 2 < 0.05 ** 2
        img[eye] = (0.2, 0.7, 0.2)
        img[eye & (np.abs(xx - (0.4 if cx < 0.5 else 0.6)) < 0.012)] = (0.0, 0.0, 0.0)
    nose = (np.abs(xx - 0.5) < 0.04 - (yy - 0.62)) & (yy > 0.62) & (yy < 0.66)
    img[nose] = (0.9, 0.4, 0.5)
    for dy in (-0.03, 0.0, 0.03):  # whiskers
        img[(np.abs(yy - 0.68 - dy * (xx - 0.5) * 4) < 0.006) & (np.abs(xx - 0.5) > 0.06)
            & (np.abs(xx - 0.5) < 0.32)] = (0.95, 0.95, 0.95)
    img += 0.03 * rng.standard_normal((size, size, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def prepare_images(files, data_dir, out_dir, size=None, synthetic_size=224, seed=0):
    """The folder holding every file of ``files`` ({name: "cat" | "painting"}) for the seed's code to
    read: ``data_dir`` when they are all there and no ``size`` is asked; else ``out_dir/data`` with
    each file copied from ``data_dir`` (resized to ``size`` x ``size`` when given, with
    ``irgraph.utils.load_img``) or, when ``data_dir`` lacks it, a synthetic picture of that kind
    (``size`` or ``synthetic_size`` square)."""
    import shutil

    from irgraph.utils import img_to_array, load_img, save_img
    if size is None and all(os.path.exists(os.path.join(data_dir, name)) for name in files):
        return data_dir
    prepared = os.path.join(out_dir, "data")
    os.makedirs(prepared, exist_ok=True)
    for i, (name, kind) in enumerate(files.items()):
        src, dst = os.path.join(data_dir, name), os.path.join(prepared, name)
        if os.path.exists(src) and size is None:
            shutil.copyfile(src, dst)
            continue
        if os.path.exists(src):
            x = img_to_array(load_img(src, target_size=(size, size), interpolation="bilinear"), data_format="channels_last")
            print("input: %s resized to %dx%d" % (src, size, size))
        else:
            x = synthetic_picture(size or synthetic_size, kind, seed + i)
            print("input: no %s; a synthetic %dx%d %s picture instead" % (src, x.shape[0], x.shape[1], kind))
        save_img(dst, x, data_format="channels_last", scale=False, quality=95)
    return prepared


def save_figure(args, name):
    """Save the current matplotlib figure as ``args.out/name`` (not with ``--no-figures``)."""
    import matplotlib.pyplot as plt
    if args.no_figures:
        return
    path = os.path.join(args.out, name)
    plt.savefig(path, dpi=60)
    print("wrote", path)
