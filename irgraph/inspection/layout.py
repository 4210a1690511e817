"""Layered (Sugiyama-style) layout of one level of a graph, computed with networkx: the collapsed
level (layers, inputs, outputs, shared weights) and, separately, the ops inside each layer, so that
the page expands a layer by moving what is beside and below it, never by laying out again.

- layers (ranks): ``networkx.topological_generations`` (longest path from the sources); a source
  (an input, a weight) then moves down to just above its first reader;
- edges that go back in the given order (a layer called twice, interleaved name scopes) are reversed
  for ranking and drawn as given;
- an edge spanning a few ranks (up to ``MAX_SPAN``) gets one dummy point per rank it crosses, so
  that it runs beside the nodes in between rather than through them; a longer one (a forward
  activation read by the backward pass of a training step: their number and lengths grow with
  depth, so their dummies grow with its square) gets none and is drawn as a curve beside the graph;
- order within a rank: one top-down barycenter sweep (each item at the mean place of the items
  above that feed it), which keeps parallel branches side by side;
- coordinates: networkx's ``multipartite_layout`` placement with the ranks as its layers, in units
  (one slot between neighbours of a rank, one rank between rows).

Nothing recurses; the cost is O((items + dummies) log) per level. docs/decisions.md ("Inspection
HTML view (issue 13)") gives the choice and the figures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..ir import gc_paused


@dataclass
class Layered:
    n: int                       # items [0, n) are the given nodes, the rest are dummy points
    rank: list                   # per item
    x: list                      # per item, in slots (0 = the middle of the widest rank)
    ranks: list                  # per rank: its items, left to right
    paths: list = field(default_factory=list)  # per given edge: [source, dummies..., target]

    def as_json(self) -> dict:
        return {"n": self.n, "rank": self.rank, "x": [round(v, 3) for v in self.x],
                "ranks": self.ranks, "paths": self.paths}


MAX_SPAN = 8  # ranks an edge may cross with dummy points; longer ones are drawn beside the graph


def layered_layout(n: int, edges: list) -> Layered:
    """Lay out nodes ``0..n-1`` (given in graph order) joined by ``edges`` ((source, target) pairs;
    repeats and self loops are allowed and drawn once or not at all)."""
    with gc_paused():
        return _layered(n, edges)


def _layered(n: int, edges: list) -> Layered:
    dag = nx.DiGraph()
    dag.add_nodes_from(range(n))
    for u, v in edges:
        if u != v:
            dag.add_edge(min(u, v), max(u, v))  # reversed when it goes back in the given order
    rank = [0] * n
    for r, generation in enumerate(nx.topological_generations(dag)):
        for node in generation:
            rank[node] = r
    succ = dag._succ
    for node in range(n):
        if not dag._pred[node] and succ[node]:
            rank[node] = min(rank[s] for s in succ[node]) - 1
    # dummy points along edges spanning several ranks (one chain per pair of nodes)
    chains: dict = {}
    total = n
    dummy_rank = []
    for u, v in dag.edges():
        chain = [u]
        for r in (range(rank[u] + 1, rank[v]) if rank[v] - rank[u] <= MAX_SPAN else ()):
            chain.append(total)
            dummy_rank.append(r)
            total += 1
        chain.append(v)
        chains[(u, v)] = chain
    all_rank = rank + dummy_rank
    preds: list = [[] for _ in range(total)]
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            preds[b].append(a)
    by_rank: dict = {}
    for item in range(total):
        by_rank.setdefault(all_rank[item], []).append(item)
    lowest = min(by_rank) if by_rank else 0
    ordered = [by_rank[r] for r in sorted(by_rank)]
    place: dict = {}
    for members in ordered:
        keys = {}
        for i, item in enumerate(members):
            above = [place[p] for p in preds[item] if p in place]
            keys[item] = sum(above) / len(above) if above else float(i)
        members.sort(key=keys.__getitem__)
        for i, item in enumerate(members):
            place[item] = i
    positions = _multipartite_slots(ordered, total)
    out_paths = []
    for u, v in edges:
        if u == v:
            out_paths.append([u])
            continue
        chain = chains[(min(u, v), max(u, v))]
        out_paths.append(list(chain) if u < v else list(reversed(chain)))
    return Layered(n=n, rank=[r - lowest for r in all_rank], x=positions, ranks=ordered, paths=out_paths)


def _multipartite_slots(ordered: list, total: int) -> list:
    """x of each item in slots: networkx's ``multipartite_layout`` placement (each rank centred on
    the middle, one slot between neighbours) before its final rescaling, written out here because
    networkx builds it with one array concatenation per rank (quadratic: 2 s for 10,000 ranks).
    tests/test_inspect_html.py checks the two agree."""
    x = [0.0] * total
    for members in ordered:
        middle = (len(members) - 1) / 2
        for i, item in enumerate(members):
            x[item] = i - middle
    return x
