"""ONNX emission: names, initializers, dynamic axes, opsets, checker, atomic writes."""
import os

import numpy as np
import onnx
import pytest

import irgraph
from irgraph.layers import Dense, Input
from irgraph.models import Model
from irgraph.onnx import max_opset
from helpers import bare_session, rand


def shared_mlp():
    x = Input(shape=(None, 6), name="seq")
    shared = Dense(6, activation="tanh", name="shared")
    return Model(x, Dense(2, name="head")(shared(shared(x))))


def test_names_initializers_and_shared_weight_stored_once():
    proto = shared_mlp().to_onnx()
    inits = [i.name for i in proto.graph.initializer if "/" in i.name]
    assert sorted(inits) == ["head/bias", "head/kernel", "shared/bias", "shared/kernel"]
    assert [i.name for i in proto.graph.input] == ["seq"]
    assert [o.name for o in proto.graph.output] == ["head"]


def test_dynamic_batch_and_time_axes_and_full_shape_info():
    proto = shared_mlp().to_onnx()
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_param == "seq_1" and dims[2].dim_value == 6
    out = proto.graph.output[0].type.tensor_type.shape.dim
    assert out[0].dim_param == "batch" and out[2].dim_value == 2
    assert len(proto.graph.value_info) >= len(proto.graph.node) - 1
    sess = bare_session(proto)
    for batch, time in [(1, 3), (4, 9), (2, 17)]:
        assert sess.run(None, {"seq": rand(batch, time, 6)})[0].shape == (batch, time, 2)


@pytest.mark.parametrize("opset", sorted({17, 18, 19, 21, max_opset()}))
def test_every_supported_opset_passes_checker_and_runs(opset):
    model = shared_mlp()
    proto = model.to_onnx(opset=opset)  # full checker inside
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    data = rand(2, 5, 6)
    np.testing.assert_allclose(bare_session(proto).run(None, {"seq": data})[0],
                               model.predict(data, verbose=0), rtol=1e-6)


def test_opset_out_of_range():
    with pytest.raises(ValueError, match="opset must be between 17"):
        shared_mlp().to_onnx(opset=13)


def test_write_is_atomic_and_leaves_no_temp(tmp_path):
    path = tmp_path / "m.onnx"
    model = shared_mlp()
    model.to_onnx(path)
    first = path.read_bytes()
    assert onnx.load(str(path)).graph.name == model.name
    model.get_layer("head").set_weights([np.ones((6, 2)), np.zeros(2)])
    model.to_onnx(str(path))
    assert path.read_bytes() != first
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_outputs_in_model_order_even_when_topological_order_differs():
    x = Input(shape=(3,))
    deep = Dense(2, name="deep")(Dense(3, name="mid")(x))
    shallow = Dense(4, name="shallow")(x)
    model = Model(x, [deep, shallow])
    proto = model.to_onnx()
    assert [o.name for o in proto.graph.output] == ["deep", "shallow"]
    a, b = model.predict_on_batch(rand(2, 3))
    assert a.shape == (2, 2) and b.shape == (2, 4)
