"""What `irgraph deploy` reads: an ONNX file (irgraph's or any other), a Keras or irgraph model file,
a Model, or a Python factory ``module:attribute``; always an inference ``onnx.ModelProto``."""
from __future__ import annotations

import os

import onnx

# metadata that only `load_model` reads; the file a server gets has no optimizer state, so the
# checksum over it would no longer hold
_SAVE_ONLY_METADATA = ("irgraph.format_version", "irgraph.model_config", "irgraph.weights",
                       "irgraph.compile_config", "irgraph.iterations", "irgraph.checksum",
                       "irgraph.complete")


class DeployError(ValueError):
    """A model or a configuration a server cannot take, with the reason and what to do."""


def load_source(source):
    """``(proto, name)``: the inference ONNX model of ``source`` and a name for it."""
    from irgraph.models import Model
    if isinstance(source, Model):
        return source.to_onnx(), source.name
    if isinstance(source, onnx.ModelProto):
        return for_serving(source), source.graph.name or "model"
    spec = os.fspath(source)
    if not os.path.exists(spec) and ":" in spec:
        from irgraph.tools.cli import load_factory
        model = load_factory(spec)
        return model.to_onnx(), model.name
    if not os.path.exists(spec):
        raise DeployError(f"no such model file {spec!r} (give an ONNX file, a Keras/irgraph model file "
                          "or MODULE:FACTORY)")
    stem = os.path.splitext(os.path.basename(spec))[0]
    from irgraph.keras_files import is_keras_archive, is_keras_h5_model
    if is_keras_archive(spec) or is_keras_h5_model(spec):
        from irgraph.conversion import load_any
        model = load_any(spec)
        return model.to_onnx(), stem
    try:
        proto = onnx.load(spec)
    except Exception as err:  # a damaged or foreign file: say which, no traceback
        raise DeployError(f"{spec!r} is neither an ONNX file nor a Keras model file: {err}") from None
    return for_serving(proto), stem


def for_serving(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The inference part of an ONNX model: initializers no node reads (an irgraph file's optimizer
    state) and the save-only metadata dropped; the graph itself is unchanged."""
    used = _names_read(proto.graph)
    graph_inputs = {i.name for i in proto.graph.input}
    kept = [t for t in proto.graph.initializer if t.name in used or t.name in graph_inputs]
    if len(kept) == len(proto.graph.initializer) and not _save_metadata(proto):
        return proto
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    props = [(p.key, p.value) for p in out.metadata_props if p.key not in _SAVE_ONLY_METADATA]
    del out.metadata_props[:]
    for key, value in props:
        out.metadata_props.add(key=key, value=value)
    return out


def _save_metadata(proto) -> bool:
    return any(p.key in _SAVE_ONLY_METADATA for p in proto.metadata_props)


def _names_read(graph) -> set:
    """Every tensor name a node of ``graph`` or of its subgraphs reads, and the graph outputs
    (an explicit stack of graphs: no recursion with nesting depth)."""
    names, stack = {o.name for o in graph.output}, [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            names.update(node.input)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    stack.append(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    stack.extend(attr.graphs)
    return names
