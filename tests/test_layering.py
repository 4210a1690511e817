"""The layers of the design import each other in one direction only (issue 10, point 4).

Every module under irgraph/ is parsed (ast, every ``import`` and ``from ... import``, including the
ones inside functions: a late import of a higher layer is still a dependency), each module is given
its layer by `LAYERS`, and a module may import only modules of its own layer or of lower ones.
docs/decisions.md ("Layers of the design and the import rule") gives the reasons for the table.

How imports are resolved: relative imports against the importing module's package; ``from P import
name`` imports the module ``P.name`` when there is one, else the package ``P`` (its __init__);
``import a.b.c`` imports ``a.b.c``. Parent packages that Python runs on the way (``irgraph/__init__``
for every module) are not counted: they are not dependencies the code chose.
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "irgraph"

# Bottom to top. A module belongs to the layer of its longest matching prefix; anything not listed
# (a new module) is in the user API, the top layer, which may import everything below it.
LAYERS = [
    ("ops and IR", ["irgraph.ops", "irgraph.ir", "irgraph.variables", "irgraph.operators",
                    "irgraph.random_state", "irgraph.tree"]),
    ("passes", ["irgraph.passes"]),
    ("emit", ["irgraph.onnx"]),
    ("runtime", ["irgraph.runtime", "irgraph.input_checks", "irgraph.model_io", "irgraph.progress"]),
    ("training", ["irgraph.training", "irgraph.callbacks"]),
    ("backend functions", ["irgraph.keras_tensor", "irgraph.initializers", "irgraph.backend.config",
                           "irgraph.backend.math", "irgraph.backend.conv", "irgraph.backend.rnn",
                           "irgraph.backend.random"]),
    ("user API", ["irgraph"]),
]
LAYER_NAMES = [name for name, _ in LAYERS]

# Cycles are allowed inside this layer only. The user API is the Keras namespace, whose parts are
# mutual by Keras's own design: the graph-mode backend (K.placeholder, K.variable, K.gradients)
# makes layers while the layers compute with K; a layer called on arrays builds a one-layer Model,
# and add_weight charges the loading budget of `saving`; wrappers and models rebuild nested layers
# through `serialization`, which builds models; K's Keras 2 losses (K.categorical_crossentropy) are
# `irgraph.losses`, which compute with K. Keras 3 has the same knots (layers <-> models <-> saving).
# Everything the user API stands on (ops, IR, passes, emission, runtime, training and the backend
# functions) is acyclic across layers and is checked below.
CYCLES_ALLOWED_IN = {"user API"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict) -> list[tuple[int, str, str]]:
    """``(line, imported module, statement text)`` for every import of an irgraph module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            if target in modules and target != name:
                found.append((node.lineno, target, ast.unparse(node)))
    return found


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"module {module} is outside the irgraph package"
    return best


def _import_graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name, path=path)
        for line, target, text in _imports(name, path, modules):
            graph.add_edge(name, target, line=line, text=text)
    return graph


GRAPH = _import_graph()


def _where(src: str, dst: str) -> str:
    d = GRAPH.edges[src, dst]
    path = GRAPH.nodes[src]["path"].relative_to(ROOT)
    return (f"{path}:{d['line']} ({LAYER_NAMES[layer_of(src)]}) imports {dst} "
            f"({LAYER_NAMES[layer_of(dst)]}): `{d['text']}`")


def test_the_parser_sees_the_imports_it_must_see():
    """The checks below are only as good as the import graph: known imports of every kind are in it
    (module level, function level, relative with a module, relative naming a submodule)."""
    edges = set(GRAPH.edges)
    assert ("irgraph.passes.lower", "irgraph.ir") in edges              # from irgraph.ir import ...
    assert ("irgraph.training.trainer", "irgraph.training.validate") in edges  # from . import validate
    assert ("irgraph.runtime", "irgraph.variables") in edges            # from . import variables
    assert ("irgraph.layers.base", "irgraph.models") in edges           # inside a function
    assert len(GRAPH) > 80 and GRAPH.number_of_edges() > 300


def test_every_import_goes_to_the_same_or_a_lower_layer():
    upward = [_where(src, dst) for src, dst in GRAPH.edges if layer_of(dst) > layer_of(src)]
    assert not upward, ("a lower layer of the design imports a higher one (move the code, or let the "
                        "higher layer install a hook, see docs/decisions.md):\n  " + "\n  ".join(upward))


def test_the_layers_depend_on_each_other_without_cycles():
    between = nx.DiGraph()
    between.add_nodes_from(LAYER_NAMES)
    for src, dst in GRAPH.edges:
        if layer_of(src) != layer_of(dst):
            between.add_edge(LAYER_NAMES[layer_of(src)], LAYER_NAMES[layer_of(dst)])
    cycles = list(nx.simple_cycles(between))
    assert not cycles, f"layers that import each other: {cycles}"


def test_no_import_cycle_spans_two_layers_and_cycles_stay_in_the_user_api():
    for component in nx.strongly_connected_components(GRAPH):
        if len(component) == 1:
            continue
        layers = {LAYER_NAMES[layer_of(m)] for m in component}
        assert len(layers) == 1, f"an import cycle spans the layers {sorted(layers)}: {sorted(component)}"
        assert layers <= CYCLES_ALLOWED_IN, (
            f"an import cycle inside the layer {layers.pop()!r}: {sorted(component)}; only the user API "
            "may have them (see CYCLES_ALLOWED_IN for why)")


def test_the_foundations_of_the_user_api_are_outside_its_cycles():
    """The pieces every user-API module builds on stay out of cycles: the functional tensor, the op
    lifting hook, the backend functions and the initializers are below the layers (their own
    layer), so that a cycle of the user API never reaches into them."""
    in_cycles = set().union(*(c for c in nx.strongly_connected_components(GRAPH) if len(c) > 1))
    for module in ("irgraph.keras_tensor", "irgraph.backend.math", "irgraph.backend.conv",
                   "irgraph.backend.rnn", "irgraph.backend.random", "irgraph.initializers"):
        assert module not in in_cycles, f"{module} is in an import cycle"


def test_the_checker_finds_an_upward_import(tmp_path):
    """A lower layer importing a higher one, at module or function level, is reported with its
    module, line and statement."""
    fake = tmp_path / "irgraph" / "passes"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("import numpy\n\n\ndef f():\n    from irgraph.losses import get\n")
    modules = {"irgraph.passes.bad": fake / "bad.py", "irgraph.losses": None}
    found = _imports("irgraph.passes.bad", fake / "bad.py", modules)
    assert found == [(5, "irgraph.losses", "from irgraph.losses import get")]
    assert layer_of("irgraph.losses") > layer_of("irgraph.passes.bad")
