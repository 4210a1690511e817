"""irgraph.preprocessing.image / irgraph.utils: load_img, img_to_array, array_to_img, save_img with
Keras's semantics."""
import builtins
import io
import pathlib
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from irgraph import backend as K  # noqa: E402
from irgraph.preprocessing import image  # noqa: E402
from irgraph.utils import array_to_img, img_to_array, load_img, save_img  # noqa: E402


def _rgb(h=6, w=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3)).astype("uint8")


@pytest.fixture
def channels_first():
    old = K.image_data_format()
    K.set_image_data_format("channels_first")
    yield
    K.set_image_data_format(old)


def test_reexports_are_the_same_functions():
    import irgraph.utils as u
    for name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        assert getattr(u, name) is getattr(image, name)


def test_png_round_trip_exact(tmp_path):
    x = _rgb()
    p = tmp_path / "a.png"
    save_img(p, x.astype("float32"), scale=False)
    img = load_img(p)
    assert img.mode == "RGB" and img.size == (10, 6)  # PIL size is (width, height)
    a = img_to_array(img)
    assert a.dtype == np.float32 and a.shape == (6, 10, 3)
    np.testing.assert_array_equal(a, x)
    # str and bytes paths, and BytesIO, read the same
    np.testing.assert_array_equal(img_to_array(load_img(str(p))), x)
    np.testing.assert_array_equal(img_to_array(load_img(str(p).encode())), x)
    np.testing.assert_array_equal(img_to_array(load_img(io.BytesIO(p.read_bytes()))), x)


def test_array_to_img_then_img_to_array(channels_first):
    x = _rgb(5, 7).astype("float32")
    chw = x.transpose(2, 0, 1)
    img = array_to_img(chw, scale=False)  # data_format=None -> backend setting (channels_first)
    assert img.size == (7, 5)
    back = img_to_array(img)  # channels_first too
    assert back.shape == (3, 5, 7)
    np.testing.assert_array_equal(back, chw)
    np.testing.assert_array_equal(img_to_array(img, data_format="channels_last"), x)
    # Keras 1 spellings are accepted
    np.testing.assert_array_equal(img_to_array(img, data_format="tf"), x)


def test_scale_maps_min_max_to_0_255():
    x = np.array([[[-1.0], [0.0]], [[1.0], [3.0]]], "float32")
    a = img_to_array(array_to_img(x))
    np.testing.assert_array_equal(a[..., 0], [[0, 63], [127, 255]])  # (x+1)/4*255 truncated
    # a constant image scales to 0 (no division by zero)
    np.testing.assert_array_equal(img_to_array(array_to_img(np.full((2, 2, 3), 7.0))), 0)
    # scale=False casts as it is
    np.testing.assert_array_equal(img_to_array(array_to_img(np.full((2, 2, 3), 7.0), scale=False)), 7)


def test_modes_by_channel_count():
    assert array_to_img(np.zeros((3, 3, 1))).mode == "L"
    assert array_to_img(np.zeros((3, 3, 3))).mode == "RGB"
    assert array_to_img(np.zeros((3, 3, 4))).mode == "RGBA"
    # 1 channel above 255 without scaling: 32-bit 'I'
    big = np.full((2, 2, 1), 1000.0)
    img = array_to_img(big, scale=False)
    assert img.mode == "I"
    np.testing.assert_array_equal(img_to_array(img), big)


def test_dtype_argument():
    x = _rgb(3, 4)
    img = array_to_img(x, scale=False)
    assert img_to_array(img, dtype="uint8").dtype == np.uint8
    assert img_to_array(img, dtype="float64").dtype == np.float64
    old = K.floatx()
    K.set_floatx("float64")
    try:
        assert img_to_array(img).dtype == np.float64
    finally:
        K.set_floatx(old)


def test_grayscale_and_rgba_loading(tmp_path):
    x = _rgb(4, 4)
    p = tmp_path / "c.png"
    save_img(p, x, scale=False)
    g = load_img(p, color_mode="grayscale")
    assert g.mode == "L"
    a = img_to_array(g)
    assert a.shape == (4, 4, 1)
    expect = np.asarray(Image.fromarray(x, "RGB").convert("L"), "float32")[..., None]
    np.testing.assert_array_equal(a, expect)
    assert img_to_array(g, data_format="channels_first").shape == (1, 4, 4)
    with pytest.warns(UserWarning, match="grayscale is deprecated"):
        g2 = load_img(p, grayscale=True)
    assert g2.mode == "L"
    rgba = load_img(p, color_mode="rgba")
    assert rgba.mode == "RGBA"
    a4 = img_to_array(rgba)
    assert a4.shape == (4, 4, 4)
    np.testing.assert_array_equal(a4[..., :3], x)
    np.testing.assert_array_equal(a4[..., 3], 255)
    # a grayscale file loaded as rgb gets three equal channels
    pg = tmp_path / "g.png"
    save_img(pg, x[..., :1], scale=False)
    assert Image.open(pg).mode == "L"
    a3 = img_to_array(load_img(pg))
    assert a3.shape == (4, 4, 3)
    np.testing.assert_array_equal(a3[..., 0], a3[..., 2])
    # 16-bit grayscale files keep their depth with color_mode="grayscale"
    p16 = tmp_path / "g16.png"
    Image.fromarray(np.array([[0, 1000], [40000, 65535]], "uint16")).save(p16)
    g16 = load_img(p16, color_mode="grayscale")
    assert g16.mode in ("I;16", "I")
    np.testing.assert_array_equal(img_to_array(g16)[..., 0], [[0, 1000], [40000, 65535]])


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"])
def test_target_size_and_interpolation(tmp_path, interpolation):
    x = _rgb(8, 12, seed=3)
    p = tmp_path / "t.png"
    save_img(p, x, scale=False)
    img = load_img(p, target_size=(4, 6), interpolation=interpolation)
    assert img.size == (6, 4)
    R = getattr(Image, "Resampling", Image)
    expect = Image.fromarray(x).resize((6, 4), getattr(R, interpolation.upper()))
    np.testing.assert_array_equal(img_to_array(img), np.asarray(expect, "float32"))


def test_nearest_downscale_by_two_picks_pixels(tmp_path):
    x = np.arange(16 * 3, dtype="uint8").reshape(4, 4, 3) * 5
    p = tmp_path / "n.png"
    save_img(p, x, scale=False)
    a = img_to_array(load_img(p, target_size=(2, 2)))  # nearest is the default
    assert a.shape == (2, 2, 3)
    assert set(map(tuple, a.reshape(-1, 3).astype(int))) <= set(map(tuple, x.reshape(-1, 3).astype(int)))


def test_same_size_is_unchanged(tmp_path):
    x = _rgb(5, 5)
    p = tmp_path / "s.png"
    save_img(p, x, scale=False)
    np.testing.assert_array_equal(img_to_array(load_img(p, target_size=(5, 5), interpolation="bicubic")), x)


def test_keep_aspect_ratio_crops_centre(tmp_path):
    # a 4x8 image: left and right quarters red, middle half green; to 2x2 keeping aspect -> the
    # centre 4x4 crop, all green
    x = np.zeros((4, 8, 3), "uint8")
    x[:, :2, 0] = x[:, 6:, 0] = 255
    x[:, 2:6, 1] = 255
    p = tmp_path / "k.png"
    save_img(p, x, scale=False)
    kept = img_to_array(load_img(p, target_size=(2, 2), keep_aspect_ratio=True))
    np.testing.assert_array_equal(kept[..., 0], 0)
    np.testing.assert_array_equal(kept[..., 1], 255)
    squashed = img_to_array(load_img(p, target_size=(2, 2)))
    assert squashed[..., 0].max() == 255  # without it the red sides remain


def test_save_img_formats(tmp_path):
    x = _rgb(8, 8)
    save_img(tmp_path / "a.jpg", x, scale=False)
    assert Image.open(tmp_path / "a.jpg").format == "JPEG"
    buf = io.BytesIO()
    save_img(buf, x, file_format="jpg", scale=False)  # 'jpg' read as 'jpeg'
    assert Image.open(io.BytesIO(buf.getvalue())).format == "JPEG"
    save_img(tmp_path / "noext", x, file_format="png", scale=False)
    assert Image.open(tmp_path / "noext").format == "PNG"
    # RGBA to JPEG: converted to RGB with a warning
    x4 = np.concatenate([x, np.full((8, 8, 1), 255, "uint8")], axis=-1)
    with pytest.warns(UserWarning, match="RGBA"):
        save_img(tmp_path / "b.jpeg", x4, scale=False)
    assert Image.open(tmp_path / "b.jpeg").mode == "RGB"
    save_img(tmp_path / "b.png", x4, scale=False)
    assert Image.open(tmp_path / "b.png").mode == "RGBA"
    # channels_first arrays and kwargs passed to PIL
    save_img(tmp_path / "cf.png", x.transpose(2, 0, 1), data_format="channels_first", scale=False,
             compress_level=1)
    np.testing.assert_array_equal(img_to_array(load_img(tmp_path / "cf.png")), x)
    # pathlib.Path relative paths work
    assert isinstance(tmp_path / "a.jpg", pathlib.Path)


def test_errors(tmp_path):
    x = _rgb(4, 4)
    p = tmp_path / "e.png"
    save_img(p, x, scale=False)
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="channel number 2"):
        array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="channels_first"):
        array_to_img(np.zeros((3, 5, 5)), data_format="channels_last")  # hint for a CHW array
    with pytest.raises(ValueError, match="data_format"):
        array_to_img(np.zeros((4, 4, 3)), data_format="NHWC")
    with pytest.raises(ValueError, match="data_format"):
        img_to_array(Image.fromarray(x), data_format="hwc")
    with pytest.raises(ValueError, match="data_format"):
        save_img(tmp_path / "x.png", x, data_format="bad")
    with pytest.raises(ValueError, match="unsupported image shape"):
        img_to_array(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="Invalid interpolation method 'cubic'.*bicubic"):
        load_img(p, target_size=(2, 2), interpolation="cubic")
    with pytest.raises(ValueError, match="color_mode"):
        load_img(p, color_mode="bgr")
    with pytest.raises(ValueError, match="target_size"):
        load_img(p, target_size=(2,))
    with pytest.raises(ValueError, match="target_size"):
        load_img(p, target_size=(0, 2))
    with pytest.raises(TypeError, match="path-like"):
        load_img(123)
    with pytest.raises(FileNotFoundError):
        load_img(tmp_path / "missing.png")


def test_missing_pillow_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("No module named 'PIL'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    for mod in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, mod)
    mod = image  # Pillow is imported when a function needs it, not with the module
    for call in (lambda: mod.load_img("x.png"), lambda: mod.array_to_img(np.zeros((2, 2, 3))),
                 lambda: mod.save_img("x.png", np.zeros((2, 2, 3)))):
        with pytest.raises(ImportError, match=r"irgraph\[image\]"):
            call()
    # img_to_array works on arrays without Pillow
    assert mod.img_to_array(np.zeros((2, 2))).shape == (2, 2, 1)
