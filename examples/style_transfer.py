"""Neural style transfer with VGG16: seed 004's "Keras 示例—风格转移" (style transfer) listing, run on
irgraph.

Seed: /work/shared/seeds/004_*.txt, the style-transfer section (listings from about line 1180):
``K.variable`` content and style images, a ``K.placeholder`` for the generated one, their
``K.concatenate`` fed to ``vgg16.VGG16(input_tensor=..., weights="imagenet", include_top=False)``,
content, style (Gram matrices of ``block1..5_conv1``) and total-variation losses, ``K.gradients``,
``K.function``, and five plain gradient steps on the image.

The program below the ``seed 004`` line is the seed's with its imports changed from ``keras`` to
``irgraph``. Other deviations, each marked ``# irgraph:`` in the code:

1. ``scipy.misc.imresize`` (removed from scipy in 1.3) is replaced by the image utilities:
   ``imresize(plt.imread(FILE), (RESIZED_WH, RESIZED_WH))`` becomes
   ``img_to_array(load_img(FILE, target_size=(RESIZED_WH, RESIZED_WH), interpolation="bilinear"),
   dtype="uint8")`` (imresize's default interpolation was bilinear, its result uint8).
2. Python bugs of the listing: ``variation_loss``'s ``return`` is indented by 5 spaces (an
   IndentationError); fixed. The loop *adds* the gradient (``content_img4d += grads_value *
   LEARNING_RATE``), which climbs the loss the text says it minimises; it subtracts it here.
3. Offline running (helpers in ``examples/generative_inputs.py``): ``DATA_DIR = "../data"`` becomes
   the folder the preamble prepares: the seed's ``cat.jpg`` and ``JapaneseBridgeMonetCopy.jpg`` from
   ``--data-dir`` when they are there, else synthetic pictures (a cat-like face; brush-stroke colour
   bands for the painting). ``RESIZED_WH = 400`` becomes ``--size`` (400 by default).
   ``weights="imagenet"`` becomes ``weights=WEIGHTS``: ``"imagenet"`` when Keras's file
   (``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``) is in ``$KERAS_HOME/models`` or
   ``~/.keras/models``, else random weights, or what ``--weights`` says.
4. Display: matplotlib runs headless (Agg) unless ``--show`` is given; each figure is saved
   (``_save_figure``) before ``plt.show()`` into ``--out``, and each step's image with
   ``irgraph.utils.save_img``. Matplotlib is kept so the seed's plotting lines stay as they are.
   ``--no-figures`` skips saving the figures (matplotlib's drawing is most of a small run's time).
5. Added output: the loss at each step (``print`` lines marked ``# irgraph: added``).
6. Added after the seed's program (its own section at the end): ``--lbfgs N`` runs N rounds of
   scipy's ``fmin_l_bfgs_b`` (``maxfun=20`` each, as Keras's ``neural_style_transfer.py`` example
   does) on the same ``f = K.function([comb_img], [loss, grads])``, starting where the seed's loop
   ended, and saves the image after each round. The seed itself has no L-BFGS.

Run:
    python examples/style_transfer.py                              # 400 px, as the seed
    python examples/style_transfer.py --size 64 --weights none --lbfgs 3 --out /tmp/style
    ... --dim-ordering th                               # the seed's channels_first branches
"""
# =============================================================================================
# irgraph preamble (not in the seed): arguments, input images, weights, headless matplotlib
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
    ap = argparse.ArgumentParser(description="seed 004's style transfer on irgraph")
    ap.add_argument("--size", type=int, default=400, help="RESIZED_WH: the images' side in pixels (seed: 400)")
    ap.add_argument("--weights", default="auto",
                    help="auto (imagenet when Keras's file is local, else random), imagenet, none, or a path")
    ap.add_argument("--data-dir", default=os.path.join("..", "data"),
                    help="where the seed's cat.jpg and JapaneseBridgeMonetCopy.jpg may be")
    ap.add_argument("--out", default="style_transfer_output", help="folder for the images")
    ap.add_argument("--show", action="store_true", help="show the figures (interactive matplotlib backend)")
    ap.add_argument("--no-figures", action="store_true",
                    help="save only the images, not the matplotlib figures (faster)")
    ap.add_argument("--lbfgs", type=int, default=0, metavar="N",
                    help="after the seed's loop, N rounds of scipy's fmin_l_bfgs_b (maxfun=20 each)")
    ap.add_argument("--dim-ordering", choices=("tf", "th"), default=None,
                    help="K.set_image_dim_ordering before the seed's code (its 'th' branches: channels_first)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the random weights and synthetic pictures")
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
_DATA_DIR = prepare_images({"cat.jpg": "cat", "JapaneseBridgeMonetCopy.jpg": "painting"}, ARGS.data_dir,
                           ARGS.out, synthetic_size=ARGS.size, seed=ARGS.seed)
WEIGHTS = choose_weights(ARGS.weights)


def _save_figure(name):
    save_figure(ARGS, name)


# =============================================================================================
# seed 004: style transfer (imports changed from keras to irgraph)
# =============================================================================================
from irgraph.applications import vgg16  # noqa: E402
from irgraph import backend as K  # noqa: E402
from irgraph.utils import img_to_array, load_img  # noqa: E402  irgraph: seed "from scipy.misc import imresize"
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import os  # noqa: E402

DATA_DIR = _DATA_DIR  # irgraph: the seed has "../data"; the preamble prepares this folder
CONTENT_IMAGE_FILE = os.path.join(DATA_DIR, "cat.jpg")
STYLE_IMAGE_FILE = os.path.join(DATA_DIR, "JapaneseBridgeMonetCopy.jpg")
RESIZED_WH = ARGS.size  # irgraph: the seed has 400 (the default of --size)

# irgraph: seed "imresize(plt.imread(FILE), (RESIZED_WH, RESIZED_WH))" for both lines
content_img_value = img_to_array(load_img(CONTENT_IMAGE_FILE, target_size=(RESIZED_WH, RESIZED_WH),
                                          interpolation="bilinear"), dtype="uint8", data_format="channels_last")
style_img_value = img_to_array(load_img(STYLE_IMAGE_FILE, target_size=(RESIZED_WH, RESIZED_WH),
                                        interpolation="bilinear"), dtype="uint8", data_format="channels_last")

plt.subplot(121)
plt.title("content")
plt.imshow(content_img_value)

plt.subplot(122)
plt.title("style")
plt.imshow(style_img_value)

_save_figure("content_style.png")  # irgraph: added
plt.show()


def preprocess(img):
    img4d = img.copy()
    img4d = img4d.astype("float64")
    if K.image_dim_ordering() == "th":
        # (H, W, C) -> (C, H, W)
        img4d = img4d.transpose((2, 0, 1))
    img4d = np.expand_dims(img4d, axis=0)
    img4d = vgg16.preprocess_input(img4d)
    return img4d


def deprocess(img4d):
    img = img4d.copy()
    if K.image_dim_ordering() == "th":
        # (B, C, H, W)
        img = img.reshape((img4d.shape[1], img4d.shape[2], img4d.shape[3]))
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
    return img


content_img = K.variable(preprocess(content_img_value))
style_img = K.variable(preprocess(style_img_value))
if K.image_dim_ordering() == "th":
    comb_img = K.placeholder((1, 3, RESIZED_WH, RESIZED_WH))
else:
    comb_img = K.placeholder((1, RESIZED_WH, RESIZED_WH, 3))

# concatenate images into single input
input_tensor = K.concatenate([content_img, style_img, comb_img], axis=0)

model = vgg16.VGG16(input_tensor=input_tensor, weights=WEIGHTS, include_top=False)  # irgraph: seed "imagenet"

layer_dict = {layer.name : layer.output for layer in model.layers}


def content_loss(content, comb):
    return K.sum(K.square(comb - content))


def gram_matrix(x):
    if K.image_dim_ordering() == "th":
        features = K.batch_flatten(x)
    else:
        features = K.batch_flatten(K.permute_dimensions(x, (2, 0, 1)))
    gram = K.dot(features, K.transpose(features))
    return gram


def style_loss_per_layer(style, comb):
    S = gram_matrix(style)
    C = gram_matrix(comb)
    channels = 3
    size = RESIZED_WH * RESIZED_WH
    return K.sum(K.square(S - C)) / (4 * (channels ** 2) * (size ** 2))


def style_loss():
    stl_loss = 0.0
    for i in range(NUM_LAYERS):
        layer_name = "block{:d}_conv1".format(i+1)
        layer_features = layer_dict[layer_name]
        style_features = layer_features[1, :, :, :]
        comb_features = layer_features[2, :, :, :]
        stl_loss += style_loss_per_layer(style_features, comb_features)
    return stl_loss / NUM_LAYERS


def variation_loss(comb):
    if K.image_dim_ordering() == "th":
        dx = K.square(comb[:, :, :RESIZED_WH-1, :RESIZED_WH-1] - 
                      comb[:, :, 1:, :RESIZED_WH-1])
        dy = K.square(comb[:, :, :RESIZED_WH-1, :RESIZED_WH-1] - 
                      comb[:, :, :RESIZED_WH-1, 1:])
    else:
        dx = K.square(comb[:, :RESIZED_WH-1, :RESIZED_WH-1, :] - 
                      comb[:, 1:, :RESIZED_WH-1, :])
        dy = K.square(comb[:, :RESIZED_WH-1, :RESIZED_WH-1, :] - 
                      comb[:, :RESIZED_WH-1, 1:, :])
    return K.sum(K.pow(dx + dy, 1.25))  # irgraph: indented by 4 (5 in the seed)


CONTENT_WEIGHT = 0.1
STYLE_WEIGHT = 5.0
VAR_WEIGHT = 0.01
NUM_LAYERS = 5

c_loss = content_loss(content_img, comb_img)
s_loss = style_loss()
v_loss = variation_loss(comb_img)
loss = (CONTENT_WEIGHT * c_loss) + (STYLE_WEIGHT * s_loss) + (VAR_WEIGHT * v_loss)

grads = K.gradients(loss, comb_img)[0]
f = K.function([comb_img], [loss, grads])

NUM_ITERATIONS = 5
LEARNING_RATE = 0.001

content_img4d = preprocess(content_img_value)
for i in range(NUM_ITERATIONS):
    print("Epoch {:d}/{:d}".format(i+1, NUM_ITERATIONS))
    loss_value, grads_value = f([content_img4d])
    print("loss {:.6g}".format(float(loss_value)))  # irgraph: added
    content_img4d -= grads_value * LEARNING_RATE  # irgraph: seed "+=" (ascent on a loss it minimises)
    plt.imshow(deprocess(content_img4d))
    save_img(os.path.join(ARGS.out, "epoch{:d}.png".format(i + 1)), deprocess(content_img4d),  # irgraph: added
             data_format="channels_last", scale=False)
    _save_figure("epoch{:d}_figure.png".format(i + 1))  # irgraph: added
    plt.show()

# =============================================================================================
# irgraph addition (not in the seed): L-BFGS on the same K.function, as Keras's
# neural_style_transfer.py example drives it
# =============================================================================================
if ARGS.lbfgs:
    from scipy.optimize import fmin_l_bfgs_b

    def loss_and_grads(x):
        loss_value, grads_value = f([x.reshape(content_img4d.shape)])
        return float(loss_value), np.asarray(grads_value, dtype="float64").ravel()

    x = content_img4d.ravel()
    print("L-BFGS start: loss {:.6g}".format(loss_and_grads(x)[0]))
    for i in range(ARGS.lbfgs):
        x, min_val, info = fmin_l_bfgs_b(loss_and_grads, x, maxfun=20)
        print("L-BFGS round {:d}/{:d}: loss {:.6g}".format(i + 1, ARGS.lbfgs, min_val))
        save_img(os.path.join(ARGS.out, "lbfgs{:d}.png".format(i + 1)), deprocess(x.reshape(content_img4d.shape)),
                 data_format="channels_last", scale=False)
