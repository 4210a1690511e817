"""The HTML view of `irgraph inspect --html` and `irgraph diff --html` (issue 13), in a real headless
browser: Debian's chromium driven by Playwright (``executable_path``; .ci/run installs chromium).

Each page is written by the command line as a user would run it, then opened from disk: it loads
with no console errors and asks for nothing over the network, every layer is drawn, expanding a
layer draws its ops, a click shows a node's details (checked against irgraph's cost formulas and
numpy's statistics of the weights), search, pan and zoom work, the pass tabs are the passes the
pipeline ran, and the changes between passes and between two models are highlighted. A 1,000-layer
model's page is drawn in under 3 s, measured inside the page from navigation start.

The screenshot in docs/ is this module's: IRGRAPH_SCREENSHOT=docs/inspect_html.png runs
test_screenshot_of_an_expanded_layer_with_details so that it writes there.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRGRAPH = os.path.join(os.path.dirname(sys.executable), "irgraph")
CHROMIUM = "/usr/bin/chromium"
# as root, in a closed network: no sandbox, no background connections Chromium makes on its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sys.path.insert(0, ROOT)


def cli(*args, ok=True):
    proc = subprocess.run([IRGRAPH, *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})
    if ok:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert os.path.exists(CHROMIUM), ("these tests need Debian's chromium at /usr/bin/chromium "
                                      "(apt-get install chromium; .ci/run installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page opened from disk, with every console error and every request it made."""

    def __init__(self, browser, path):
        self.page = browser.new_page(viewport={"width": 1300, "height": 800})
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = "file://" + str(path)
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-rendered='1']", timeout=60_000)

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)

    def wait(self, expression, arg=None, timeout=30.0):
        """Until the expression is true (polled here: Playwright's wait_for_function evaluates its
        predicate with eval, which the page's Content-Security-Policy refuses)."""
        deadline = time.monotonic() + timeout
        while not self.js(expression, arg):
            assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
            time.sleep(0.02)

    def show(self, tab_name):
        self.page.click(f"#tabs button:has-text('{tab_name}')")
        self.wait("name => irgraph.data.tabs[irgraph.current].name === name", tab_name)

    def tab(self):
        return self.js("irgraph.data.tabs[irgraph.current]")

    def close(self):
        self.page.close()


SHARED_LSTM = "examples.seed_models:k2_shared_lstm"


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    """The shared-LSTM seed model saved by a fresh process (its layers keep their first names:
    lstm, concatenate, dense), so that the page and these tests read the same weights."""
    path = tmp_path_factory.mktemp("model") / "shared_lstm.onnx"
    code = f"from irgraph.tools.cli import load_factory; load_factory({SHARED_LSTM!r}).save({str(path)!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def lstm_model(lstm_file):
    from irgraph.models import load_model
    return load_model(str(lstm_file))


@pytest.fixture(scope="module")
def lstm_html(lstm_file):
    path = lstm_file.with_suffix(".html")
    out = cli("inspect", str(lstm_file), "--html", str(path)).stdout
    assert f"wrote {path}" in out
    return path


@pytest.fixture
def lstm_page(browser, lstm_html):
    page = Page(browser, lstm_html)
    yield page
    assert page.errors == [], page.errors
    page.close()


# ------------------------------------------------------------------------------------ the page
def test_page_loads_with_no_console_errors_and_no_network_requests(browser, lstm_html):
    page = Page(browser, lstm_html)
    for tab in ("input", "lower", "cleanup", "training step", "fuse"):
        page.show(tab)
        page.page.click("#fit")
    page.page.fill("#search", "lstm")
    assert page.errors == []
    assert page.requests == [page.url], page.requests  # the file itself, nothing else
    html = lstm_html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "default-src 'none'" in html  # and the browser refuses any request the page might try
    page.close()


def test_pass_tabs_are_the_passes_the_pipeline_ran_and_the_training_step(lstm_page, lstm_model):
    model = lstm_model
    passes = [name for name, _ in model.compile_graph().history]
    assert passes[:4] == ["input", "lower", "infer_shapes", "cleanup"]
    tabs = lstm_page.js("[...document.querySelectorAll('#tabs button')].map(b => b.firstChild.textContent)")
    assert tabs == passes + ["training step"]
    assert lstm_page.tab()["name"] == passes[-1]  # the page opens on the graph that runs


def test_every_layer_is_drawn(lstm_page, lstm_model):
    from irgraph.inspection import model_report
    model = lstm_model
    layers = [r["name"] for r in model_report(model)["layers"]]
    assert {"lstm", "lstm[1]", "concatenate", "dense"} <= set(layers)
    lstm_page.page.click("#fit")
    drawn = lstm_page.js("""() => {
        const tab = irgraph.data.tabs[irgraph.current];
        const groups = [...document.querySelectorAll('[data-group]')].map(e => tab.groups[+e.dataset.group].name);
        const lone = [...document.querySelectorAll('[data-node]')].map(e => tab.nodes[+e.dataset.node].scope);
        return groups.concat(lone);
    }""")
    assert set(layers) <= set(drawn), set(layers) - set(drawn)
    # the layer-level graph: one node per layer call, the Input layers as inputs
    lstm_page.show("input")
    lstm_page.page.click("#fit")
    calls = lstm_page.js("[...document.querySelectorAll('[data-node] .t2')].map(t => t.textContent)")
    assert sorted(calls) == sorted(["lstm[0]", "lstm[1]", "concatenate[0]", "dense[0]"])
    inputs = lstm_page.js("[...document.querySelectorAll('.item.input title')].map(t => t.textContent)")
    assert sorted(inputs) == sorted(model.input_names)


def _group_index(page, name):
    return page.js(f"irgraph.data.tabs[irgraph.current].groups.findIndex(g => g.name === {json.dumps(name)})")


def test_expanding_a_layer_draws_its_ops(lstm_page, lstm_model):
    from irgraph.inspection.view import from_ir
    model = lstm_model
    final = from_ir(model.compile_graph().graph)
    ops = sorted(n.name for n in final.nodes if n.scope == "lstm")
    g = _group_index(lstm_page, "lstm")
    scoped = "[...document.querySelectorAll('[data-node]')].map(e => irgraph.data.tabs[irgraph.current].nodes[+e.dataset.node]).filter(n => n.scope === 'lstm').map(n => n.name)"
    assert lstm_page.js(scoped) == []
    lstm_page.page.click(f"[data-group='{g}'] [data-toggle]")
    assert sorted(lstm_page.js(scoped)) == ops and len(ops) > 5
    assert lstm_page.js(f"document.querySelector(\"[data-group='{g}']\").classList.contains('expanded')")
    # the expanded box holds its ops, and the layers below it moved down to make room
    inside = lstm_page.js(f"""() => {{
        const box = document.querySelector("[data-group='{g}'] rect.box").getBoundingClientRect();
        return [...document.querySelectorAll('[data-node]')].filter(e => irgraph.data.tabs[irgraph.current].nodes[+e.dataset.node].scope === 'lstm')
          .every(e => {{ const r = e.getBoundingClientRect(); return r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1; }});
    }}""")
    assert inside
    overlaps = lstm_page.js("""() => {
        const boxes = [...document.querySelectorAll('.item')].filter(e => !e.classList.contains('expanded')).map(e => e.getBoundingClientRect());
        const open = [...document.querySelectorAll('.group.expanded rect.box')].map(e => e.getBoundingClientRect());
        return boxes.filter(b => open.some(o => b.left < o.right - 1 && b.right > o.left + 1 && b.top < o.bottom - 1 && b.bottom > o.top + 1)).length;
    }""")
    assert overlaps == 0
    lstm_page.page.click(f"[data-group='{g}'] [data-toggle]")
    assert lstm_page.js(scoped) == []


def test_clicking_a_node_shows_attributes_macs_and_weight_statistics(lstm_page, lstm_model):
    from irgraph.inspection.view import from_ir
    model = lstm_model
    view = from_ir(model.compile_graph().graph)
    gemm = next(n for n in view.nodes if n.scope == "dense" and n.op == "Gemm")
    macs = view.macs(gemm)
    g = _group_index(lstm_page, "dense")
    lstm_page.page.click(f"[data-group='{g}'] [data-toggle]")
    index = lstm_page.js(f"irgraph.data.tabs[irgraph.current].nodes.findIndex(n => n.name === {json.dumps(gemm.name)})")
    lstm_page.page.click(f"[data-node='{index}'] rect")
    details = lstm_page.page.inner_text("#details")
    assert gemm.name in details and f"MACs\t{macs:,}" in details
    for name, value in gemm.attrs.items():
        assert name in details
    kernel = next(w for w in model.weights if w.path == "dense/kernel").numpy()
    stats = dict(re.findall(r"(min|max|mean|std) (-?[\d.]+(?:e[-+]?\d+)?)", details.split("PARAMETERS")[1].split("dense/bias")[0]))
    for key, want in (("min", kernel.min()), ("max", kernel.max()), ("mean", kernel.mean()), ("std", kernel.std())):
        assert float(stats[key]) == pytest.approx(float(want), rel=1e-4, abs=1e-7), key
    assert lstm_page.js(f"document.querySelector(\"[data-node='{index}']\").classList.contains('selected')")
    # a layer's details are its row of the cost table
    from irgraph.inspection import model_report
    row = next(r for r in model_report(model)["layers"] if r["name"] == "lstm")
    lstm_page.page.click(f"[data-group='{_group_index(lstm_page, 'lstm')}'] rect.box")
    details = lstm_page.page.inner_text("#details")
    assert f"parameters\t{row['params']:,}" in details and f"MACs\t{row['macs']:,}" in details


def test_shared_weights_are_linked_to_every_reader(lstm_page):
    lstm_page.page.click("#fit")
    shared = lstm_page.js("""() => {
        const tab = irgraph.data.tabs[irgraph.current];
        return [...document.querySelectorAll('.weightitem')].map(e => {
            const it = tab.items[+e.dataset.item];
            return [it.name, [...new Set(it.readers.map(r => tab.nodes[r].scope))].sort()];
        });
    }""")
    assert dict(shared) == {f"lstm/{w}": ["lstm", "lstm[1]"] for w in ("kernel", "recurrent_kernel", "bias")}
    # one dashed edge from each shared weight to each layer reading it
    assert lstm_page.js("document.querySelectorAll('path.edge.weight').length") == 6


def test_search_by_name_finds_centres_and_selects(lstm_page):
    lstm_page.page.fill("#search", "concatenate")
    hits = lstm_page.js("[...document.querySelectorAll('#results div')].map(d => d.firstChild.textContent)")
    assert hits == ["concatenate/Concat"]
    lstm_page.page.click("#results div")
    assert lstm_page.page.inner_text("#details h3") == "concatenate/Concat"
    box = lstm_page.js("""() => {
        const r = document.querySelector('[data-node].selected').getBoundingClientRect(), c = document.getElementById('canvas').getBoundingClientRect();
        return [r.left + r.width / 2 - c.left - c.width / 2, r.top + r.height / 2 - c.top - c.height / 2];
    }""")
    assert abs(box[0]) < 2 and abs(box[1]) < 2  # centred
    # an op inside a collapsed layer: its layer opens
    lstm_page.page.fill("#search", "lstm[1]/LSTM")
    lstm_page.page.click("#results div")
    assert lstm_page.page.inner_text("#details h3") == "lstm[1]/LSTM"
    assert lstm_page.js(f"document.querySelector(\"[data-group='{_group_index(lstm_page, 'lstm[1]')}']\").classList.contains('expanded')")


def test_pan_and_zoom(lstm_page):
    def transform():
        t = lstm_page.js("document.getElementById('viewport').getAttribute('transform')")
        x, y, k = map(float, re.match(r"translate\(([-\d.]+),([-\d.]+)\) scale\(([-\d.]+)\)", t).groups())
        return x, y, k
    x0, y0, k0 = transform()
    lstm_page.page.mouse.move(400, 300)
    lstm_page.page.mouse.wheel(0, -300)
    lstm_page.wait("k => !document.getElementById('viewport').getAttribute('transform').endsWith(`scale(${k})`)", f"{k0:.4f}")
    x1, y1, k1 = transform()
    assert k1 > k0 * 1.2
    lstm_page.page.mouse.move(300, 300)
    lstm_page.page.mouse.down()
    lstm_page.page.mouse.move(360, 250, steps=5)
    lstm_page.page.mouse.up()
    x2, y2, k2 = transform()
    assert (x2 - x1, y2 - y1, k2) == (pytest.approx(60, abs=1), pytest.approx(-50, abs=1), k1)


def test_changes_between_passes_are_highlighted(lstm_page, lstm_model):
    model = lstm_model
    history = dict(model.compile_graph().history)

    def ops(graph):
        return {n for n, d in graph.nx.nodes(data=True) if d["kind"] in ("op", "call")}
    lstm_page.show("lower")
    lstm_page.page.click("#fit")
    tab = lstm_page.tab()
    assert tab["changes"]["added"] == len(ops(history["lower"]))  # every op is new after lowering
    assert lstm_page.js("document.querySelectorAll('.group.added, [data-node].added').length") > 0
    lstm_page.show("cleanup")
    removed = ops(history["infer_shapes"]) - ops(history["cleanup"])
    assert removed and lstm_page.tab()["changes"]["removed"] == len(removed)
    assert f"{len(removed)} nodes removed by this pass" in lstm_page.page.inner_text("#summary")
    lstm_page.show("training step")
    pm_train = lstm_page.tab()
    from irgraph.inspection import train_passes
    train = train_passes(model)[0].graph
    assert pm_train["changes"]["added"] == len(ops(train) - ops(model.compile_graph().graph))
    badges = lstm_page.js("[...document.querySelectorAll('#tabs .badge')].map(b => b.textContent)")
    assert any(b.startswith("+") for b in badges) and any("\u2212" in b for b in badges)


def test_diff_page_highlights_added_removed_and_changed_nodes(browser, tmp_path):
    from irgraph.layers import Dense, Input
    from irgraph.models import Model

    def model(second, last):
        x = Input(shape=(16,), name="x")
        h = Dense(8, activation="relu", name="first")(x)
        h = Dense(second, activation="relu", name="second")(h)
        h = Dense(4, name=last)(h)
        return Model(x, h)
    model(8, "gone").to_onnx(str(tmp_path / "a.onnx"))
    model(6, "extra").to_onnx(str(tmp_path / "b.onnx"))
    out = tmp_path / "diff.html"
    cli("diff", str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx"), "--html", str(out))
    page = Page(browser, out)
    page.show(page.js("irgraph.data.tabs[0].name"))

    def marked(status):
        return page.js(f"""() => {{
            const tab = irgraph.data.tabs[irgraph.current];
            return [...document.querySelectorAll('#canvas .{status}')].map(e => e.dataset.group != null ? tab.groups[+e.dataset.group].name : tab.nodes[+e.dataset.node].scope);
        }}""")
    assert set(marked("removed")) == {"gone"}
    assert "second" in marked("changed") and not marked("added")
    assert "max |A - B|" in page.page.inner_text("#diff-text")
    page.show(page.js("irgraph.data.tabs[1].name"))
    assert set(marked("added")) == {"extra"}
    assert "second" in marked("changed") and not marked("removed")
    assert page.errors == [] and page.requests == [page.url]
    page.close()


def test_foreign_onnx_file(browser, tmp_path):
    import glob

    import onnx
    resnet = glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/light_resnet50.onnx"))[0]
    out = tmp_path / "resnet.html"
    cli("inspect", resnet, "--batch", "1", "--html", str(out))
    page = Page(browser, out)
    tab = page.tab()
    assert sum(n["op"] == "Conv" for n in tab["nodes"]) == 53
    page.page.click("#fit")
    drawn = page.js("""() => document.querySelectorAll('[data-node]').length + [...document.querySelectorAll('[data-group]')]
        .reduce((n, e) => n + irgraph.data.tabs[irgraph.current].groups[+e.dataset.group].nodes.length, 0)""")
    assert drawn == len(onnx.load(resnet).graph.node)  # each drawn, or in a drawn layer
    assert page.errors == [] and page.requests == [page.url]
    page.close()


def test_a_1000_layer_model_is_drawn_in_under_3_seconds(browser, tmp_path):
    from irgraph.layers import Dense, Input
    from irgraph.models import Model
    from irgraph.tools.inspect import Target, target_html
    x = Input(shape=(8,))
    h = x
    for _ in range(1000):
        h = Dense(8, activation="relu")(h)
    html = target_html(Target("chain", model=Model(x, h)))  # what `irgraph inspect --html` writes
    out = tmp_path / "chain.html"
    out.write_text(html)
    page = Page(browser, out)
    rendered_ms = page.js("window.irgraphRenderedAt")  # from navigation start to the first frame drawn
    tab = page.tab()
    assert len(tab["groups"]) == 1000 and [t["name"] for t in page.js("irgraph.data.tabs")][-1] == "training step"
    assert rendered_ms < 3000, f"drawn after {rendered_ms:.0f} ms"
    print(f"1,000-layer page: {len(html) / 2**20:.1f} MiB, drawn {rendered_ms:.0f} ms after navigation start")
    # scrolling to the bottom draws the layers there
    page.js("irgraph.reveal({type: 'group', index: 999})")
    assert page.page.inner_text("#details h3") == tab["groups"][999]["name"]
    assert page.errors == []
    page.close()


def test_screenshot_of_an_expanded_layer_with_details(lstm_page, tmp_path):
    from PIL import Image
    g = _group_index(lstm_page, "lstm[1]")
    lstm_page.page.click(f"[data-group='{g}'] [data-toggle]")
    index = lstm_page.js("irgraph.data.tabs[irgraph.current].nodes.findIndex(n => n.name === 'lstm[1]/LSTM')")
    lstm_page.page.click(f"[data-node='{index}'] rect")
    lstm_page.page.click("#fit")
    path = os.environ.get("IRGRAPH_SCREENSHOT") or str(tmp_path / "inspect_html.png")
    lstm_page.page.screenshot(path=path)
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape == (800, 1300) and image.std() > 10  # a drawing, not a blank page


# ------------------------------------------------------------------------------------ layout
def test_layout_slots_are_networkx_multipartite_placement():
    import networkx as nx

    from irgraph.inspection.layout import layered_layout
    edges = [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (3, 4), (2, 4), (5, 4)]
    lay = layered_layout(6, edges)
    holder = nx.Graph()
    holder.add_nodes_from(range(len(lay.rank)))
    pos = nx.multipartite_layout(holder, subset_key=dict(enumerate(lay.ranks)), align="horizontal")
    unit = pos[lay.ranks[1][0]][1] - pos[lay.ranks[0][0]][1]
    for item in range(len(lay.rank)):
        assert pos[item][0] / unit == pytest.approx(lay.x[item])
        assert (pos[item][1] - pos[lay.ranks[0][0]][1]) / unit == pytest.approx(lay.rank[item])


def test_layout_ranks_dummies_and_back_edges():
    from irgraph.inspection.layout import MAX_SPAN, layered_layout
    n = 40
    edges = [(i, i + 1) for i in range(n - 1)] + [(0, 5), (3, 3 + MAX_SPAN + 4), (30, 10), (30, 10)]
    lay = layered_layout(n, edges)
    for (u, v), path in zip(edges, lay.paths):
        assert path[0] == u and path[-1] == v
        ranks = [lay.rank[p] for p in path]
        if u < v:
            assert ranks == sorted(ranks) and ranks[0] < ranks[-1]
    assert lay.paths[n - 1] == [0] + list(range(n, n + 4)) + [5]  # one dummy per rank crossed
    assert [lay.rank[p] for p in lay.paths[n - 1]] == [0, 1, 2, 3, 4, 5]
    assert len(lay.paths[n]) == 2  # longer than MAX_SPAN: drawn beside the graph, no dummies
    assert lay.paths[n + 1][0] == 30 and lay.paths[n + 1][-1] == 10  # a back edge keeps its direction
    for members in lay.ranks:
        xs = [lay.x[i] for i in members]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_layout_of_a_100000_node_chain_does_not_recurse():
    import time

    from irgraph.inspection.layout import layered_layout
    n = 100_000
    start = time.process_time()
    lay = layered_layout(n, [(i, i + 1) for i in range(n - 1)] + [(i, i + 3) for i in range(0, n - 3, 10)])
    assert lay.rank[n - 1] == n - 1 and len(lay.ranks) == n
    assert time.process_time() - start < 30


def test_html_to_an_unwritable_path_is_a_clear_error(tmp_path):
    proc = cli("inspect", "examples.seed_models:k2_mlp", "--html", str(tmp_path / "no" / "such" / "dir.html"), ok=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "cannot write" in proc.stderr and "dir.html" in proc.stderr
