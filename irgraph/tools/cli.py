"""The `irgraph` command.

  irgraph inspect TARGET [--batch N] [--dim NAME=N] [--json] [--train] [--html OUT.html]
      per-layer cost table (parameters, MACs, activation and weight memory), peak memory, operators;
      TARGET: an ONNX file (irgraph's or any other), a saved irgraph or Keras model (.keras, .h5),
      or pkg.module:factory (then also the layer summary and the graph after every pass);
      --html writes an interactive page of the graph (of every pass and the training step)
  irgraph diff A B [--json] [--html OUT.html]   nodes added, removed and changed; initializers compared
  irgraph export pkg.module:factory -o model.onnx [--opset 17]
  irgraph convert model.keras -o model.onnx [--opset 17] [--train-step step.onnx]
  irgraph deploy triton MODEL -o REPO [...]      a Triton model repository (irgraph deploy triton -h)
  irgraph deploy kserve MODEL -o DIR [...]       that repository and a KServe InferenceService manifest
  irgraph serve MODEL_OR_REPO [--http-port P]    Triton serving it over the Open Inference Protocol

A factory is a module attribute that is a Model or a function returning one
(e.g. ``examples.seed_models:seed000_mlp``).
"""
from __future__ import annotations

import argparse
import importlib
import json
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
    from irgraph.tools import inspect as tool
    target = tool.load_target(args.target)
    dims = parse_dims(args.dim)
    if args.html:
        check_writable(args.html)
        html = tool.target_html(target, batch=args.batch, dims=dims)
        write_html(args.html, html)
        print(f"wrote {args.html} ({len(html) / 2**20:.1f} MiB): open it in a browser")
        return 0
    report = tool.target_report(target, batch=args.batch, dims=dims, train=args.train)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(tool.target_text(target, report), end="")
    return 0


def cmd_diff(args) -> int:
    from irgraph.inspection.diff import diff_models, render_diff
    from irgraph.tools import inspect as tool
    a, b = tool.load_target(args.a), tool.load_target(args.b)
    if args.html:
        check_writable(args.html)
        html = tool.diff_html(a, b)
        write_html(args.html, html)
        print(f"wrote {args.html}: open it in a browser")
        return 0
    result = diff_models(tool.target_onnx(a), tool.target_onnx(b), a.label, b.label)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(render_diff(result), end="")
    return 0


def check_writable(path: str) -> None:
    """Before the work: the folder of an output file exists."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SystemExit(f"irgraph: cannot write {path!r}: no folder {folder!r}")


def write_html(path: str, html: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(html)
    except OSError as err:
        raise SystemExit(f"irgraph: cannot write {path!r}: {err.strerror or err}") from None


def parse_dims(items) -> dict:
    dims = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise SystemExit(f"irgraph: --dim takes NAME=N with N a positive integer (e.g. --dim time=20), "
                             f"got {item!r}")
        dims[name.strip()] = int(value)
    return dims


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


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
    p = sub.add_parser("inspect", help="cost table, memory and passes of an ONNX file, a saved model or a factory")
    p.add_argument("target", help="a .onnx, .keras or .h5 file, or MODULE:ATTRIBUTE")
    p.add_argument("--batch", type=positive_int, help="batch size for shapes and costs (default: costs per sample)")
    p.add_argument("--dim", action="append", metavar="NAME=N",
                   help="size of a symbolic dimension, e.g. --dim time=20 (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--train", action="store_true", help="also estimate the peak memory of one training step")
    p.add_argument("--html", metavar="OUT.html", help="write an interactive view of the graph (every pass and "
                   "the training step for a model) to this file instead of printing the report")
    p.set_defaults(fn=cmd_inspect)
    p = sub.add_parser("diff", help="compare two models: nodes added, removed, changed; initializers")
    p.add_argument("a", help="a .onnx/.keras/.h5 file or MODULE:ATTRIBUTE")
    p.add_argument("b", help="a .onnx/.keras/.h5 file or MODULE:ATTRIBUTE")
    p.add_argument("--json", action="store_true", help="print the differences as JSON")
    p.add_argument("--html", metavar="OUT.html", help="write both graphs with the differences highlighted to this file")
    p.set_defaults(fn=cmd_diff)
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
    from .serve_cli import add_commands, handled_errors
    add_commands(sub)  # deploy triton, serve
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, TypeError, *handled_errors()) as err:
        raise SystemExit(f"irgraph: {err}") from None
    except BrokenPipeError:  # the reader went away (`irgraph inspect ... | head`): nothing to say
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
