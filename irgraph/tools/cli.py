"""The `irgraph` command.

  irgraph inspect model.onnx            inputs, outputs, operators, parameters of an ONNX file
  irgraph inspect pkg.module:factory    layer summary and the graph after every pass
  irgraph export pkg.module:factory -o model.onnx [--opset 17]
  irgraph convert model.keras -o model.onnx [--opset 17] [--train-step step.onnx]

A factory is a module attribute that is a Model or a function returning one
(e.g. ``examples.seed_models:seed000_mlp``).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys


def load_factory(spec: str):
    if ":" not in spec:
        raise SystemExit(f"irgraph: expected MODULE:ATTRIBUTE or a .onnx file, got {spec!r}")
    mod_name, attr = spec.split(":", 1)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod_name)
    except ImportError as err:
        raise SystemExit(f"irgraph: cannot import {mod_name!r}: {err}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SystemExit(f"irgraph: module {mod_name!r} has no attribute {attr!r}") from None
    from irgraph.models import Model
    model = obj if isinstance(obj, Model) else obj()
    if isinstance(model, (tuple, list)):
        model = model[0]
    if isinstance(model, dict):
        model = next(iter(model.values()))
    if not isinstance(model, Model) and isinstance(getattr(model, "model", None), Model):
        model = model.model  # a factory returning a namespace of the listing's objects
    if not isinstance(model, Model):
        raise SystemExit(f"irgraph: {spec} gave {type(model).__name__}, not a Model (nor a tuple, list, "
                         "dict or object whose first entry or .model is one)")
    return model


def cmd_inspect(args) -> int:
    from irgraph.tools.inspect import onnx_summary, passes_report
    if args.target.endswith(".onnx"):
        import onnx
        if not os.path.exists(args.target):
            raise SystemExit(f"irgraph: no such file {args.target!r}")
        try:
            model = onnx.load(args.target)
        except Exception as err:  # a damaged file: say so, no traceback
            raise SystemExit(f"irgraph: {args.target!r} is not a readable ONNX model: {err}") from None
        print(onnx_summary(model), end="")
        return 0
    model = load_factory(args.target)
    model.summary()
    print(passes_report(model), end="")
    return 0


def cmd_export(args) -> int:
    model = load_factory(args.target)
    proto = model.to_onnx(args.output, opset=args.opset)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, inputs {model.input_names}, "
          f"outputs {model.output_names}, opset {args.opset}")
    return 0


def cmd_convert(args) -> int:
    from irgraph.conversion import convert
    from irgraph.saving import ModelFileError
    source = args.model
    if not os.path.exists(source) and ":" in source:
        source = load_factory(source)
    elif not os.path.exists(source):
        raise SystemExit(f"irgraph: no such file {source!r}")
    try:
        report = convert(source, args.output, opset=args.opset, train_step=args.train_step)
    except (ModelFileError, ImportError) as err:
        raise SystemExit(f"irgraph: {err}") from None
    print(report, end="")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="irgraph", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarize an ONNX file or a model factory")
    p.add_argument("target", help="a .onnx file or MODULE:ATTRIBUTE")
    p.set_defaults(fn=cmd_inspect)
    p = sub.add_parser("export", help="export a model factory to ONNX")
    p.add_argument("target", help="MODULE:ATTRIBUTE")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--opset", type=int, default=17)
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("convert", help="convert a model file (.keras, .h5, irgraph's) to ONNX")
    p.add_argument("model", help="a Keras 3 .keras archive, a Keras 2 .h5 model, an irgraph saved model "
                                 "or MODULE:ATTRIBUTE")
    p.add_argument("-o", "--output", required=True, help="the inference ONNX file to write")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--train-step", dest="train_step", default=None,
                   help="also write the training-step ONNX file here (needs a compiled model)")
    p.set_defaults(fn=cmd_convert)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"irgraph: {err}") from None


if __name__ == "__main__":
    sys.exit(main())
