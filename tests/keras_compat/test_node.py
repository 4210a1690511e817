"""Calls recorded as nodes: the behaviours of keras/src/ops/node_test.py.

Keras's test builds ``Node`` objects by hand; irgraph's nodes are made by calling layers (its
``Node`` constructor is internal), so each behaviour is shown on nodes recorded by the functional
API: an Input's node, a call with a positional tensor and a keyword tensor, and a call whose
``call()`` returns something that is not a tensor.

Out of scope: nothing in node_test.py (no quantization, dtype policy, pickling or export).
"""
import numpy as np
import pytest

from irgraph.layers import Input, Layer


class DummyLayer(Layer):
    """Returns its first input; reads a keyword tensor ``x`` when given one."""

    def call(self, inputs, x=None):
        return inputs if x is None else inputs + x


# keras/src/ops/node_test.py::NodeTest::test_simple_case
def test_input_node():
    a = Input(batch_shape=(2, 3, 4))
    node = a._keras_history[0]._inbound_nodes[0]
    assert node.is_input
    assert node.output_tensors[0] is a
    assert node.output_tensors[0].shape == (2, 3, 4)
    assert node.arguments.args == () and node.arguments.kwargs == {}


# keras/src/ops/node_test.py::NodeTest::test_single_wired_layers
def test_single_wired_layers():
    a = Input(batch_shape=(2, 3, 4))
    x = Input(batch_shape=(2, 3, 4))
    a_layer = a._keras_history[0]
    b_layer = DummyLayer()
    b = b_layer(a, x=x)
    node1, node2 = a_layer._inbound_nodes[0], b_layer._inbound_nodes[0]

    assert node1.is_input and not node2.is_input
    assert node1.operation is a_layer and node2.operation is b_layer
    assert node1.output_tensors[0] is a and node1.output_tensors[0].shape == (2, 3, 4)
    assert node2.output_tensors[0] is b
    assert a_layer._outbound_nodes[0] is node2
    assert x._keras_history[0]._outbound_nodes[0] is node2
    assert node2.parent_nodes[0] is node1
    # the call's tensors: positional first, then keyword
    assert node2.input_tensors == [a, x]
    assert node2.arguments.args == (a,)
    assert node2.arguments.kwargs == {"x": x}


# keras/src/ops/node_test.py::NodeTest::test_output_tensor_error
@pytest.mark.parametrize("returned", [np.random.rand(2, 3, 4), "abc", None], ids=["array", "str", "none"])
def test_output_tensor_error(returned):
    class Returns(Layer):
        def call(self, inputs):
            return returned

    with pytest.raises(ValueError, match="operation outputs must be tensors"):
        Returns(name="returns")(Input(shape=(3, 4)))
