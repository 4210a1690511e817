"""Backend functions inside Lambda layers (and applied to functional tensors) against numpy."""
import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model
from helpers import assert_close, export_and_run, layer_output, rand


def run(fn, *arrays):
    return layer_output(L.Lambda(fn), *arrays)


# ----------------------------------------------------------------------------------- products
def test_dot_2d_weight():
    x, w = rand(4, 5), rand(5, 3, seed=1)
    assert_close(run(lambda t: K.dot(t, w), x), x @ w)


def test_dot_3d_by_2d():
    x, w = rand(2, 4, 5), rand(5, 3, seed=1)
    assert_close(run(lambda t: K.dot(t, w), x), x @ w)


def test_dot_2d_by_3d_keras_semantics():
    x, y = rand(2, 5), rand(6, 5, 3, seed=1)  # (2,5).(6,5,3) -> (2,6,3)
    assert_close(run(lambda t: K.dot(t, y), x), np.einsum("an,bnm->abm", x, y))


def test_dot_3d_by_3d_keras_semantics():
    x, y = rand(2, 4, 5), rand(6, 5, 3, seed=1)  # -> (2,4,6,3), as np.dot
    assert_close(run(lambda t: K.dot(t, y), x), np.dot(x, y))


@pytest.mark.parametrize("shapes,axes,ref", [
    (((3, 5), (3, 5)), None, lambda a, b: np.sum(a * b, 1, keepdims=True)),
    (((3, 5), (3, 5)), 1, lambda a, b: np.sum(a * b, 1, keepdims=True)),
    (((3, 4, 5), (3, 5, 6)), None, lambda a, b: a @ b),
    (((3, 4, 5), (3, 6, 5)), (2, 2), lambda a, b: a @ b.transpose(0, 2, 1)),
    (((3, 5, 4), (3, 5, 6)), (1, 1), lambda a, b: a.transpose(0, 2, 1) @ b),
    (((3, 5, 4), (3, 6, 5)), (1, 2), lambda a, b: np.einsum("bni,bjn->bij", a, b)),
    (((3, 5), (3, 5, 6)), (1, 1), lambda a, b: np.einsum("bn,bnj->bj", a, b)),
    (((3, 4, 5), (3, 5)), (2, 1), lambda a, b: np.einsum("bin,bn->bi", a, b)),
])
def test_batch_dot(shapes, axes, ref):
    a, b = rand(*shapes[0]), rand(*shapes[1], seed=1)
    y = run(lambda ts: K.batch_dot(ts[0], ts[1], axes=axes), a, b)
    assert_close(y, ref(a, b))


def test_batch_dot_rejects_batch_axis():
    a = irgraph.Input((5,))
    with pytest.raises(ValueError, match="batch axis"):
        L.Lambda(lambda ts: K.batch_dot(ts[0], ts[1], axes=0))([a, a])


# ----------------------------------------------------------------------------------- arrays
@pytest.mark.parametrize("axis", [1, 2, -1])
def test_repeat_elements(axis):
    x = rand(2, 3, 4)
    assert_close(run(lambda t: K.repeat_elements(t, 3, axis), x), np.repeat(x, 3, axis=axis))


def test_repeat_elements_dynamic_time():
    inp = irgraph.Input((None, 4))
    model = Model(inp, L.Lambda(lambda t: K.repeat_elements(t, 2, 1))(inp))
    for n in (3, 5):
        x = rand(2, n, 4)
        assert_close(export_and_run(model, [x])[0], np.repeat(x, 2, axis=1))


@pytest.mark.parametrize("axis", [-1, 1, (1, 2)])
def test_l2_normalize(axis):
    x = rand(3, 4, 5)
    ref = x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), 1e-12))
    assert_close(run(lambda t: K.l2_normalize(t, axis=axis), x), ref)


@pytest.mark.parametrize("index", [
    (slice(None), slice(1, 3)),
    (slice(None), slice(None, None, 2)),
    (Ellipsis, 0),
    (Ellipsis, -1),
    (slice(None), None),
    (slice(None), -1),
    (slice(None), 1),
    (slice(None), slice(-2, None)),
    (slice(None), slice(None, None, -1)),
    (slice(None), slice(3, 0, -2)),
    (slice(None), Ellipsis, None, slice(1, None)),
])
def test_getitem(index):
    x = rand(2, 4, 5)
    assert_close(run(lambda t: t[index], x), x[index])


def test_getitem_dynamic_axis():
    inp = irgraph.Input((None, 5))
    model = Model(inp, L.Lambda(lambda t: t[:, 1:3, ::2])(inp))
    assert model.output_shape == (None, None, 3)  # 1:3 of an unknown length may have 0, 1 or 2 steps
    for n in (4, 6):
        x = rand(2, n, 5)
        assert_close(export_and_run(model, [x])[0], x[:, 1:3, ::2])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(axis):
    a, b = rand(2, 3), rand(2, 3, seed=1)
    assert_close(run(lambda ts: K.concatenate(ts, axis=axis), a, b), np.concatenate([a, b], axis=axis))
    assert_close(run(lambda ts: K.stack(ts, axis=axis), a, b), np.stack([a, b], axis=axis))


@pytest.mark.parametrize("name", ["mean", "sum", "max", "min", "prod", "var", "std"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (-1, True), ((1, 2), False),
                                           ([0, 2], True)])
def test_reductions(name, axis, keepdims):
    x = rand(2, 3, 4) * 0.5 + 1.0
    ref_axis = tuple(axis) if isinstance(axis, list) else axis
    ref = getattr(np, name)(x, axis=ref_axis, keepdims=keepdims)
    y = run(lambda t: getattr(K, name)(t, axis=axis, keepdims=keepdims), x)  # axis None: a scalar
    assert_close(y, ref)


def test_clip_switch_where():
    x = rand(3, 6)
    assert_close(run(lambda t: K.clip(t, -0.5, 0.5), x), np.clip(x, -0.5, 0.5))
    assert_close(run(lambda t: K.switch(t > 0, t * 2, -t), x), np.where(x > 0, x * 2, -x))
    assert_close(run(lambda t: K.switch(K.greater(t, 0.1), t, K.zeros_like(t)), x),
                 np.where(x > 0.1, x, 0))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_one_hot(dtype):
    idx = np.array([[0, 3, 1], [2, 2, 4]], dtype=dtype)
    y = run(lambda t: K.one_hot(t, 5), idx)
    assert y.dtype == np.float32
    assert_close(y, np.eye(5, dtype=np.float32)[idx])


def test_elementwise_math():
    x = np.abs(rand(3, 4)) + 0.1
    for fn, ref in [(K.sqrt, np.sqrt), (K.exp, np.exp), (K.log, np.log), (K.square, np.square),
                    (K.abs, np.abs), (K.sign, np.sign), (K.sin, np.sin), (K.cos, np.cos),
                    (lambda t: K.pow(t, 3), lambda v: v ** 3), (lambda t: 1.0 / t, lambda v: 1.0 / v),
                    (lambda t: 2.0 - t, lambda v: 2.0 - v), (K.negative, np.negative)]:
        assert_close(run(fn, x), ref(x))


def test_transpose_permute_reshape_expand_squeeze_tile():
    x = rand(2, 3, 4)
    assert_close(run(lambda t: K.permute_dimensions(t, (0, 2, 1)), x), x.transpose(0, 2, 1))
    assert_close(run(lambda t: K.reshape(t, (-1, 12)), x), x.reshape(-1, 12))
    assert_close(run(lambda t: K.expand_dims(t, 1), x), x[:, None])
    assert_close(run(lambda t: K.squeeze(K.expand_dims(t, -1), -1), x), x)
    assert_close(run(lambda t: K.tile(t, (1, 2, 3)), x), np.tile(x, (1, 2, 3)))
    assert_close(run(lambda t: K.batch_flatten(t), x), x.reshape(2, -1))
    assert_close(run(lambda t: K.repeat(t[:, 0], 3), x), np.repeat(x[:, None, 0], 3, axis=1))


def test_cast_and_argmax():
    x = rand(3, 5)
    y = run(lambda t: K.argmax(t, axis=-1), x)
    assert y.dtype == np.int64 and (y == x.argmax(-1)).all()
    assert_close(run(lambda t: K.cast(K.cast(t * 10, "int32"), "float32"), x), np.trunc(x * 10))


def test_switch_per_sample_condition_and_callables():
    x = rand(4, 3)
    flag = np.array([1, 0, 1, 0], dtype="float32")
    y = run(lambda ts: K.switch(ts[1], lambda: ts[0] * 2, lambda: -ts[0]), x, flag)
    assert_close(y, np.where(flag[:, None] > 0, x * 2, -x))


def test_op_layer_names():
    a = irgraph.Input((3,))
    names = [K.greater(a, 0), K.sum(a, axis=1), K.max(a, 1), K.equal(a, a), K.less_equal(a, 1.0)]
    assert [t._keras_history[0].name for t in names] == ["greater", "sum", "max", "equal", "less_equal"]


def test_integer_tensors_promote_with_python_floats():
    idx = np.array([[1, 2, 3], [-7, 0, 9]], dtype="int32")
    for fn, ref in [(lambda t: t * 0.5, idx * 0.5), (lambda t: t / 2, idx / 2), (lambda t: t / 255.0, idx / 255),
                    (lambda t: 1.5 + t, 1.5 + idx), (lambda t: t - 0.25, idx - 0.25)]:
        y = run(fn, idx)
        assert y.dtype == np.float32
        assert_close(y, ref)
    y = run(lambda t: t * 2 + 1, idx)  # Python ints keep the integer dtype
    assert y.dtype == np.int32 and (y == idx * 2 + 1).all()
    y = run(lambda t: K.zeros_like(t) + K.ones_like(t), idx)
    assert y.dtype == np.int32 and (y == 1).all()


def test_integer_div_folding_truncates_like_onnx():
    from irgraph.ops.base import get_op
    a, b = np.array([-7, 7, -8, -1, 1], dtype="int64"), np.array([2, -2, 2, 2, -2], dtype="int64")
    assert get_op("Div").compute({}, a, b)[0].tolist() == [-3, -3, -4, 0, 0]


def test_int_shape_ndim_dtype():
    inp = irgraph.Input((3, 4))
    assert K.int_shape(inp) == (None, 3, 4)
    assert K.ndim(inp) == 3 and K.dtype(inp) == "float32"
    assert K.is_keras_tensor(inp)


# ----------------------------------------------------------------------------------- op layers
def test_backend_on_functional_tensors_records_op_layer():
    a, b = irgraph.Input((4,)), irgraph.Input((4,))
    out = K.relu(a + b)
    model = Model([a, b], out)
    x, y = rand(3, 4), rand(3, 4, seed=1)
    assert_close(export_and_run(model, [x, y])[0], np.maximum(x + y, 0))
    # each backend call is an op layer of the functional graph; as Keras 3 does with its Operations,
    # model.layers lists only the layers proper, and get_layer still finds the op layers by name
    relu = out._keras_history[0]
    add = out.node.input_tensors[0]._keras_history[0]
    assert [type(lyr).__name__ for lyr in (add, relu)] == ["OpLayer", "OpLayer"]
    assert [type(lyr).__name__ for lyr in model.layers] == ["InputLayer", "InputLayer"]
    assert model.get_layer(relu.name) is relu and model.get_layer(add.name) is add


def test_functional_operators_and_keyword_arguments():
    a = irgraph.Input((3, 4))
    out = K.mean(a * 2.0 - 1.0, axis=1, keepdims=False) ** 2
    out = K.concatenate([out, K.sum(a, axis=1)], axis=-1)
    model = Model(a, out)
    x = rand(2, 3, 4)
    ref = np.concatenate([np.mean(x * 2 - 1, axis=1) ** 2, x.sum(1)], axis=-1)
    assert_close(export_and_run(model, [x])[0], ref)


def test_euclidean_distance_lambda():
    def euclidean_distance(vects):
        x, y = vects
        return K.sqrt(K.maximum(K.sum(K.square(x - y), axis=1, keepdims=True), K.epsilon()))

    a, b = rand(5, 8), rand(5, 8, seed=1)
    y = run(euclidean_distance, a, b)
    assert y.shape == (5, 1)
    assert_close(y, np.sqrt(np.sum((a - b) ** 2, axis=1, keepdims=True)))


def test_learning_phase_outside_trace():
    assert K.learning_phase() == 0
    assert K.in_train_phase(1, 2) == 2 and K.in_test_phase(1, 2) == 1
