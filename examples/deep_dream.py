"""Deep dream with a pre-trained VGG16: seed 004's "深度做梦" (deep dream) listing, run on irgraph.

Seed: /work/shared/seeds/004_*.txt, the "举例来说——深度做梦" section (listings from about line 995:
imports, ``preprocess``/``deprocess``, ``vgg16.VGG16(input_tensor=dream, weights="imagenet",
include_top=False)``, the layer dict, gradient ascent on the mean activation of each pooling layer,
then the same run on a noise image and with the single-filter "African elephant" loss).

The program below the ``seed 004`` line is the seed's, with its imports changed from ``keras`` to
``irgraph``. Other deviations, each marked ``# irgraph:`` in the code:

1. Python bugs of the listing: ``preprocess`` has ``np.expand_dims`` and ``vgg16.preprocess_input``
   indented inside ``if K.image_dim_ordering() == "th":``, so with the default "tf" ordering it
   returned a 3D, unpreprocessed image and ``Input(batch_shape=...)`` got no batch axis; they are
   dedented as in the seed's own style-transfer listing. ``deprocess``'s ``return img`` at column 0
   (a SyntaxError) is indented.
2. Offline running (helpers in ``examples/generative_inputs.py``): ``DATA_DIR = "../data"`` becomes
   the folder the preamble prepares, and
   ``weights="imagenet"`` becomes ``weights=WEIGHTS``: the preamble picks ``"imagenet"`` when
   Keras's weight file (``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``) is in
   ``$KERAS_HOME/models`` or ``~/.keras/models``, else random weights (``None``), or what
   ``--weights`` says. The seed's ``cat.jpg`` is used from ``--data-dir`` when it is there; otherwise
   the preamble draws a synthetic picture (a cat-like face on a gradient) and saves it as ``cat.jpg``.
   ``--size N`` resizes the image to N x N (with ``irgraph.utils.load_img``), or draws it at that
   size; the noise image is ``--size`` square too (the seed's 227 by default).
3. Display: the seed shows its figures with ``plt.show()``. Here matplotlib runs headless (Agg) unless
   ``--show`` is given, and each figure is also saved (``_save_figure``) before ``plt.show()``, and
   each dreamed image with ``irgraph.utils.save_img``, into ``--out``. Matplotlib is kept (rather
   than replaced by image saving) so that the seed's plotting lines stay as they are.
   ``--no-figures`` skips saving the figures (matplotlib's drawing is most of a small run's time).
4. Added output: one line per step with the loss (``print`` lines marked ``# irgraph: added``), so a
   run shows the ascent. ``--noise`` runs the loop on the seed's noise image instead of the cat, and
   ``--elephant`` uses the seed's single-filter loss ``layer_output[:, :, :, 24]`` (a non-scalar
   tensor: ``K.gradients`` differentiates its sum, as TensorFlow's ``tf.gradients`` did); the seed
   shows both as re-runs of the same loop.

Run:
    python examples/deep_dream.py                       # 224 px synthetic cat (or ../data/cat.jpg)
    python examples/deep_dream.py --size 64 --weights none --out /tmp/dream
    python examples/deep_dream.py --noise --elephant    # the seed's last experiment
    ... --dim-ordering th                               # the seed's channels_first branches
With random weights the "dreams" are noise patterns; with Keras's ImageNet file they are the seed's.
"""
# =============================================================================================
# irgraph preamble (not in the seed): arguments, input image, weights, headless matplotlib
# =============================================================================================
import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generative_inputs import choose_weights, prepare_images, save_figure  # noqa: E402  (weights switch, input pictures)


def _parse_args(argv=None):
    ap = argparse.ArgumentParser(description="seed 004's deep dream on irgraph")
    ap.add_argument("--size", type=int, default=None,
                    help="image side in pixels (default: cat.jpg's own size, or 224 for the synthetic one)")
    ap.add_argument("--weights", default="auto",
                    help="auto (imagenet when Keras's file is local, else random), imagenet, none, or a path")
    ap.add_argument("--data-dir", default=os.path.join("..", "data"), help="where the seed's cat.jpg may be")
    ap.add_argument("--out", default="deep_dream_output", help="folder for the images")
    ap.add_argument("--show", action="store_true", help="show the figures (interactive matplotlib backend)")
    ap.add_argument("--no-figures", action="store_true",
                    help="save only the images, not the matplotlib figures (faster)")
    ap.add_argument("--noise", action="store_true", help="dream on the seed's noise image instead of the cat")
    ap.add_argument("--elephant", action="store_true", help="the seed's single-filter loss (filter 24)")
    ap.add_argument("--dim-ordering", choices=("tf", "th"), default=None,
                    help="K.set_image_dim_ordering before the seed's code (its 'th' branches: channels_first)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random weights and the noise image")
    return ap.parse_args(argv)


ARGS = _parse_args()
os.makedirs(ARGS.out, exist_ok=True)
import matplotlib  # noqa: E402

if not ARGS.show:
    matplotlib.use("Agg")  # headless: figures are saved, plt.show() does nothing
    warnings.filterwarnings("ignore", message=".*non-interactive.*")  # Agg's plt.show() warning

import irgraph  # noqa: E402
from irgraph.utils import save_img  # noqa: E402

irgraph.set_seed(ARGS.seed)  # random VGG16 weights
if ARGS.dim_ordering:
    irgraph.backend.set_image_dim_ordering(ARGS.dim_ordering)
np.random.seed(ARGS.seed)    # the seed's noise image
_DATA_DIR = prepare_images({"cat.jpg": "cat"}, ARGS.data_dir, ARGS.out, ARGS.size, seed=ARGS.seed)
WEIGHTS = choose_weights(ARGS.weights)
NOISE_SIZE = ARGS.size or 227  # the seed's noise image is 227 x 227


def _save_figure(name):
    save_figure(ARGS, name)


# =============================================================================================
# seed 004: deep dream (imports changed from keras to irgraph)
# =============================================================================================
from irgraph import backend as K  # noqa: E402
from irgraph.applications import vgg16  # noqa: E402
from irgraph.layers import Input  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import os  # noqa: E402

DATA_DIR = _DATA_DIR  # irgraph: the seed has "../data"; the preamble prepares this folder
IMAGE_FILE = os.path.join(DATA_DIR, "cat.jpg")
img = plt.imread(IMAGE_FILE)
plt.imshow(img)
_save_figure("input.png")  # irgraph: added

if ARGS.noise:  # irgraph: the seed's second run, on noise (its listing comes after the loop)
    img_noise = np.random.randint(100, 150, size=(NOISE_SIZE, NOISE_SIZE, 3), dtype=np.uint8)  # seed: 227
    plt.imshow(img_noise)
    _save_figure("input_noise.png")  # irgraph: added
    img = img_noise


def preprocess(img):
    img4d = img.copy()
    img4d = img4d.astype("float64")
    if K.image_dim_ordering() == "th":
        # (H, W, C) -> (C, H, W)
        img4d = img4d.transpose((2, 0, 1))
    img4d = np.expand_dims(img4d, axis=0)  # irgraph: dedented (the seed had it inside the if)
    img4d = vgg16.preprocess_input(img4d)  # irgraph: dedented (the seed had it inside the if)
    return img4d


def deprocess(img4d):
    img = img4d.copy()
    if K.image_dim_ordering() == "th":
        # (B, C, H, W)
        img = img.reshape((img4d.shape[1], img4d.shape[2],         img4d.shape[3]))
        # (C, H, W) -> (H, W, C)
        img = img.transpose((1, 2, 0))
    else:
        # (B, H, W, C)
        img = img.reshape((img4d.shape[1], img4d.shape[2], img4d.shape[3]))
    img[:, :, 0] += 103.939
    img[:, :, 1] += 116.779
    img[:, :, 2] += 123.68
    # BGR -> RGB
    img = img[:, :, ::-1]
    img = np.clip(img, 0, 255).astype("uint8")
    return img  # irgraph: indented (at column 0 in the seed)


img_copy = img.copy()
print("Original image shape:", img.shape)
p_img = preprocess(img_copy)
batch_shape = p_img.shape
dream = Input(batch_shape=batch_shape)
model = vgg16.VGG16(input_tensor=dream, weights=WEIGHTS, include_top=False)  # irgraph: seed "imagenet"

layer_dict = {layer.name : layer for layer in model.layers}
print(layer_dict)

num_pool_layers = 5
num_iters_per_layer = 3
step = 100

for i in range(num_pool_layers):
    # identify each pooling layer
    layer_name = "block{:d}_pool".format(i+1)
    # build loss function that maximizes the mean activation in layer
    layer_output = layer_dict[layer_name].output
    loss = K.mean(layer_output)
    if ARGS.elephant:  # irgraph: the seed's single-filter variant replaces the line above
        loss = layer_output[:, :, :, 24]
    # compute gradient of image wrt loss and normalize
    grads = K.gradients(loss, dream)[0]
    grads /= (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    # define function to return loss and grad given input image
    f = K.function([dream], [loss, grads])
    img_value = p_img.copy()
    fig, axes = plt.subplots(1, num_iters_per_layer, figsize=(20, 10))
    for it in range(num_iters_per_layer):
        loss_value, grads_value = f([img_value])
        print("{:s} step {:d}: loss {:.6g}".format(layer_name, it, float(np.sum(loss_value))))  # irgraph: added
        img_value += grads_value * step 
        axes[it].imshow(deprocess(img_value))
        save_img(os.path.join(ARGS.out, "{:s}_step{:d}.png".format(layer_name, it)),  # irgraph: added
                 deprocess(img_value), data_format="channels_last", scale=False)
    _save_figure("{:s}.png".format(layer_name))  # irgraph: added
    plt.show()
