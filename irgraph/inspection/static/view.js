// irgraph's graph view: draws the layouts that irgraph computed (irgraph/inspection/layout.py) and
// answers the reader: tabs, expand/collapse of layers, selection and details, search, pan and zoom.
// Expanding a layer moves what is beside it in its rank sideways and the ranks below it down; the
// order of everything stays as laid out.
"use strict";
(function () {
  const scriptStart = performance.now();
  const DATA = JSON.parse(document.getElementById("irgraph-data").textContent);
  const loaded = DATA.tabs.map(() => null);
  // a tab's data (gzip, base64) is inflated and parsed when the tab is first shown
  function load(i) {
    if (!loaded[i]) {
      const text = atob(document.getElementById("irgraph-tab-" + i).textContent.trim());
      const bytes = new Uint8Array(text.length);
      for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      loaded[i] = new Response(stream).text().then(json => Object.assign(DATA.tabs[i], JSON.parse(json)));
    }
    return loaded[i];
  }
  const NODE_W = 164, NODE_H = 38, SLOT = 184, RANK_GAP = 34, PAD = 12, HEAD = 26;
  const SVGNS = "http://www.w3.org/2000/svg";
  const canvas = document.getElementById("canvas");
  const states = DATA.tabs.map(() => ({ expanded: new Set(), view: null, selected: null, placed: null }));
  let current = DATA.start || 0;

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function cut(s, n) { s = String(s == null ? "" : s); return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function num(n) { return n == null ? "unknown" : Number(n).toLocaleString("en-US"); }
  function count(n) { return n == null ? "unknown" : num(n) + (Math.abs(n) >= 1e4 ? " (" + human(n) + ")" : ""); }
  function human(n) {
    if (n == null) return "unknown";
    for (const [d, s] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]]) if (Math.abs(n) >= d) return (n / d).toFixed(2) + s;
    return String(n);
  }
  function bytes(n) {
    if (n == null) return "unknown";
    for (const [d, s] of [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]]) if (Math.abs(n) >= d) return (n / d).toFixed(2) + " " + s;
    return n + " B";
  }
  function fmt(v) { return v == null ? "none" : (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)) ? v.toExponential(4) : v.toPrecision(5); }

  // ------------------------------------------------------------------ geometry
  function groupSize(g) {
    const L = g.layout;
    let lo = 0, hi = 0;
    for (let i = 0; i < L.x.length; i++) { lo = Math.min(lo, L.x[i]); hi = Math.max(hi, L.x[i]); }
    const rows = L.ranks.length;
    return { w: (hi - lo) * SLOT + NODE_W + 2 * PAD, h: rows * NODE_H + (rows - 1) * RANK_GAP + HEAD + 2 * PAD, lo: lo };
  }

  // Place every item of the collapsed level, and the ops of expanded layers, in pixels.
  function place(tab, st) {
    const L = tab.layout, total = L.rank.length;
    const w = new Float64Array(total), h = new Float64Array(total), cx = new Float64Array(total), cy = new Float64Array(total);
    const sizes = {};
    for (let i = 0; i < total; i++) {
      if (i >= L.n) { w[i] = 0; h[i] = 0; continue; }
      const it = tab.items[i];
      if (it.kind === "group" && st.expanded.has(it.group)) {
        const s = sizes[it.group] = groupSize(tab.groups[it.group]);
        w[i] = s.w; h[i] = s.h;
      } else { w[i] = NODE_W; h[i] = NODE_H; }
    }
    let y = 0;
    for (let r = 0; r < L.ranks.length; r++) {
      const members = L.ranks[r];
      let rowH = NODE_H, extraAll = 0;
      for (const i of members) { rowH = Math.max(rowH, h[i]); extraAll += Math.max(0, w[i] - NODE_W); }
      let before = 0;
      for (const i of members) {
        const extra = Math.max(0, w[i] - NODE_W);
        cx[i] = L.x[i] * SLOT + before + extra / 2 - extraAll / 2;
        cy[i] = y + rowH / 2;
        before += extra;
      }
      y += rowH + RANK_GAP;
    }
    // ops inside expanded layers
    const inner = {};
    for (const g of st.expanded) {
      const group = tab.groups[g], s = sizes[g], i = itemOfGroup(tab, g);
      const left = cx[i] - s.w / 2, top = cy[i] - s.h / 2, IL = group.layout;
      const pos = [];
      for (let k = 0; k < IL.rank.length; k++) {
        pos.push([left + PAD + (IL.x[k] - s.lo) * SLOT + NODE_W / 2, top + HEAD + PAD + IL.rank[k] * (NODE_H + RANK_GAP) + NODE_H / 2]);
      }
      inner[g] = pos;
    }
    return { w, h, cx, cy, inner };
  }

  function localIndex(group, node) {
    if (!group._local) { group._local = new Map(); group.nodes.forEach((n, k) => group._local.set(n, k)); }
    return group._local.get(node);
  }

  function itemOfGroup(tab, g) {
    if (!tab._groupItem) {
      tab._groupItem = {};
      tab.items.forEach((it, i) => { if (it.kind === "group") tab._groupItem[it.group] = i; });
    }
    return tab._groupItem[g];
  }

  // where an edge leaves (bottom) or enters (top) an item, or an op inside an expanded layer
  function anchor(tab, st, P, item, node, bottom) {
    const it = tab.items[item];
    if (node >= 0 && it.kind === "group" && st.expanded.has(it.group)) {
      const p = P.inner[it.group][localIndex(tab.groups[it.group], node)];
      return [p[0], p[1] + (bottom ? NODE_H / 2 : -NODE_H / 2)];
    }
    return [P.cx[item], P.cy[item] + (bottom ? P.h[item] / 2 : -P.h[item] / 2)];
  }

  // an edge spanning many ranks without points of its own: a curve out to the right of its ends
  function longCurve(a, b, k) {
    const lane = Math.max(a[0], b[0]) + NODE_W * 0.7 + 9 * (k % 12);
    return "M" + a[0].toFixed(1) + "," + a[1].toFixed(1) + "C" + lane.toFixed(1) + "," + a[1].toFixed(1) + " " +
      lane.toFixed(1) + "," + b[1].toFixed(1) + " " + b[0].toFixed(1) + "," + b[1].toFixed(1);
  }

  function curve(points) {
    let d = "M" + points[0][0].toFixed(1) + "," + points[0][1].toFixed(1);
    for (let k = 1; k < points.length; k++) {
      const [x0, y0] = points[k - 1], [x1, y1] = points[k], my = (y1 - y0) / 2;
      d += "C" + x0.toFixed(1) + "," + (y0 + my).toFixed(1) + " " + x1.toFixed(1) + "," + (y1 - my).toFixed(1) + " " + x1.toFixed(1) + "," + y1.toFixed(1);
    }
    return d;
  }

  // ------------------------------------------------------------------ drawing
  function statusClass(s) { return s ? " " + s : ""; }

  function nodeMarkup(tab, i, x, y, extraClass) {
    const n = tab.nodes[i];
    const kind = n.kind === "call" ? " call" : (n.const ? " const" : "");
    const t1 = n.kind === "call" ? n.op : n.op;
    const t2 = n.kind === "call" ? n.name.replace(/^call:/, "") : (n.group >= 0 ? n.name.split("/").pop() : n.name);
    return `<g class="node${kind}${statusClass(n.status)}${extraClass || ""}" data-node="${i}" transform="translate(${(x - NODE_W / 2).toFixed(1)},${(y - NODE_H / 2).toFixed(1)})">` +
      `<rect width="${NODE_W}" height="${NODE_H}" rx="5"/><title>${esc(n.name)} (${esc(n.op)})</title>` +
      `<text class="t1" x="8" y="15">${esc(cut(t1, 22))}</text><text class="t2" x="8" y="30">${esc(cut(t2, 28))}</text></g>`;
  }

  // Draw the current tab: what lies within one screen of the visible part (panning or zooming past
  // it draws again), so that a graph of thousands of layers costs what one screen of it costs.
  // ``relayout``: the expanded layers changed, so everything is placed again first.
  function render(relayout = true) {
    const tab = DATA.tabs[current], st = states[current];
    if (relayout || !st.placed) st.placed = place(tab, st);
    const P = st.placed;
    if (!st.view) fitView(false);
    const vis = st.drawn = visibleRect(1);
    const inView = (x0, y0, x1, y1) => x1 >= vis.x0 && x0 <= vis.x1 && y1 >= vis.y0 && y0 <= vis.y1;
    const parts = [];
    parts.push(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#8a94a3"/></marker>` +
      `<marker id="arroww" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#7c3aed"/></marker></defs>`);
    parts.push(`<g id="viewport">`);
    const labels = new Map();  // the labels at one anchor: the same text once, others stacked below
    function label(x, y, text) {
      const key = Math.round(x) + "," + Math.round(y), there = labels.get(key) || [];
      if (!text || there.includes(text)) return;
      there.push(text); labels.set(key, there);
      parts.push(`<text class="elabel" x="${(x + 5).toFixed(1)}" y="${(y + 12 + 11 * (there.length - 1)).toFixed(1)}">${esc(cut(text, 30))}</text>`);
    }
    function edge(pts, far, k, weight) {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
      if (far) x1 += NODE_W * 0.7 + 120;
      if (!inView(x0, y0, x1, y1)) return false;
      const d = far ? longCurve(pts[0], pts[pts.length - 1], k) : curve(pts);
      parts.push(`<path class="edge${weight ? " weight" : ""}" d="${d}" marker-end="url(#${weight ? "arroww" : "arrow"})"/>`);
      return true;
    }
    // layer boxes first (an expanded one lies under its ops and edges), the other items last
    const boxes = [], others = [];
    for (let i = 0; i < tab.layout.n; i++) {
      const it = tab.items[i], x = P.cx[i] - P.w[i] / 2, y = P.cy[i] - P.h[i] / 2;
      if (!inView(x, y, x + P.w[i], y + P.h[i])) continue;
      if (it.kind === "group") {
        const g = tab.groups[it.group], open = st.expanded.has(it.group);
        const sel = st.selected && st.selected.type === "group" && st.selected.index === it.group ? " selected" : "";
        let m = `<g class="item group ${open ? "expanded" : "collapsed"}${statusClass(g.status)}${sel}" data-group="${it.group}" transform="translate(${x.toFixed(1)},${y.toFixed(1)})">` +
          `<rect class="box" width="${P.w[i].toFixed(1)}" height="${P.h[i].toFixed(1)}" rx="6"/><title>${esc(g.name)}: ${esc(g.type)}, ${g.nodes.length} ops</title>`;
        m += `<text class="t1" x="28" y="15">${esc(cut(g.name, open ? 60 : 19))}</text>`;
        m += `<text class="t2" x="28" y="30">${esc(cut(g.type + " \u00b7 " + g.nodes.length + " ops", open ? 60 : 24))}</text>`;
        m += `<g class="toggle" data-toggle="${it.group}"><rect x="5" y="7" width="17" height="17" rx="3"/><text x="9.5" y="20">${open ? "\u2212" : "+"}</text></g></g>`;
        boxes.push(m);
      } else if (it.kind === "node") {
        const sel = st.selected && st.selected.type === "node" && st.selected.index === it.node ? " selected" : "";
        others.push(nodeMarkup(tab, it.node, P.cx[i], P.cy[i], " item" + sel));
      } else {
        const cls = it.kind === "weight" ? "weightitem" : it.kind;
        const sel = st.selected && st.selected.type === "item" && st.selected.index === i ? " selected" : "";
        others.push(`<g class="item ${cls}${sel}" data-item="${i}" transform="translate(${x.toFixed(1)},${y.toFixed(1)})">` +
          `<rect width="${NODE_W}" height="${NODE_H}" rx="${it.kind === "weight" ? 2 : 16}"/><title>${esc(it.name)}</title>` +
          `<text class="t1" x="12" y="15">${esc(cut(it.kind === "weight" ? "shared weight" : it.kind, 22))}</text>` +
          `<text class="t2" x="12" y="30">${esc(cut(it.name + " " + it.shape, 26))}</text></g>`);
      }
    }
    parts.push(...boxes);
    // edges of the collapsed level
    for (const e of tab.edges) {
      const seen = new Set();
      const far = e.path.length === 2 && Math.abs(tab.layout.rank[e.to] - tab.layout.rank[e.from]) > 1;
      for (const [sn, dn] of e.links) {
        const a = anchor(tab, st, P, e.from, sn, true), b = anchor(tab, st, P, e.to, dn, false);
        const key = a.join() + "|" + b.join();
        if (seen.has(key)) continue;
        seen.add(key);
        const pts = [a];
        for (let k = 1; k < e.path.length - 1; k++) pts.push([P.cx[e.path[k]], P.cy[e.path[k]]]);
        pts.push(b);
        if (edge(pts, far, e.from, e.weight)) label(a[0], a[1], e.label);
      }
    }
    // inside expanded layers: their edges and ops
    for (const g of st.expanded) {
      const group = tab.groups[g], pos = P.inner[g], i = itemOfGroup(tab, g);
      if (!inView(P.cx[i] - P.w[i] / 2, P.cy[i] - P.h[i] / 2, P.cx[i] + P.w[i] / 2, P.cy[i] + P.h[i] / 2)) continue;
      for (const e of group.edges) {
        if (e.path.length < 2) continue;
        const s = pos[e.path[0]], t = pos[e.path[e.path.length - 1]];
        const pts = [[s[0], s[1] + NODE_H / 2]];
        for (let k = 1; k < e.path.length - 1; k++) pts.push(pos[e.path[k]]);
        pts.push([t[0], t[1] - NODE_H / 2]);
        const far = e.path.length === 2 && Math.abs(group.layout.rank[e.path[1]] - group.layout.rank[e.path[0]]) > 1;
        if (edge(pts, far, e.path[0], false)) label(pts[0][0], pts[0][1], e.label);
      }
      group.nodes.forEach((ni, k) => {
        if (!inView(pos[k][0] - NODE_W / 2, pos[k][1] - NODE_H / 2, pos[k][0] + NODE_W / 2, pos[k][1] + NODE_H / 2)) return;
        const sel = st.selected && st.selected.type === "node" && st.selected.index === ni ? " selected" : "";
        parts.push(nodeMarkup(tab, ni, pos[k][0], pos[k][1], sel));
      });
    }
    parts.push(...others);
    parts.push(`</g>`);
    canvas.innerHTML = parts.join("");
    applyView();
  }

  // the part of the drawing on screen, widened by ``margin`` screens on each side
  function visibleRect(margin) {
    const v = states[current].view, W = canvas.clientWidth || 800, H = canvas.clientHeight || 600;
    const x0 = -v.x / v.k, y0 = -v.y / v.k, w = W / v.k, h = H / v.k;
    return { x0: x0 - margin * w, y0: y0 - margin * h, x1: x0 + w + margin * w, y1: y0 + h + margin * h };
  }
  let pending = false;
  function redrawIfNeeded() {
    const st = states[current], v = visibleRect(0), d = st.drawn;
    const zoomedOut = d && (v.x1 - v.x0) > (d.x1 - d.x0) / 1.5;  // much more on screen than drawn around it
    if (d && v.x0 >= d.x0 && v.x1 <= d.x1 && v.y0 >= d.y0 && v.y1 <= d.y1 && !zoomedOut) return;
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(false); });
  }

  // ------------------------------------------------------------------ pan and zoom
  function bounds() {
    const P = states[current].placed;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < P.cx.length; i++) {
      x0 = Math.min(x0, P.cx[i] - P.w[i] / 2); x1 = Math.max(x1, P.cx[i] + P.w[i] / 2);
      y0 = Math.min(y0, P.cy[i] - P.h[i] / 2); y1 = Math.max(y1, P.cy[i] + P.h[i] / 2);
    }
    return isFinite(x0) ? { x0, y0, x1, y1 } : { x0: 0, y0: 0, x1: 1, y1: 1 };
  }
  // the whole graph in the window (``whole``), or its width and its top at a readable size
  function fitView(whole) {
    const st = states[current], b = bounds(), W = canvas.clientWidth || 800, H = canvas.clientHeight || 600;
    const k = Math.min(1.2, (W - 40) / (b.x1 - b.x0), whole ? (H - 40) / (b.y1 - b.y0) : Infinity);
    const kk = whole ? k : Math.max(k, 0.35);
    st.view = { k: kk, x: W / 2 - kk * (b.x0 + b.x1) / 2, y: 20 - kk * b.y0 };
  }
  function fit(whole) { fitView(whole); applyView(); }
  function applyView() {
    const st = states[current];
    const vp = document.getElementById("viewport");
    if (vp) vp.setAttribute("transform", `translate(${st.view.x.toFixed(1)},${st.view.y.toFixed(1)}) scale(${st.view.k.toFixed(4)})`);
    redrawIfNeeded();
  }
  function centerOn(x, y) {
    const st = states[current], W = canvas.clientWidth || 800, H = canvas.clientHeight || 600;
    st.view.k = Math.max(st.view.k, 0.8);
    st.view.x = W / 2 - st.view.k * x; st.view.y = H / 2 - st.view.k * y;
    applyView();
  }
  let drag = null;
  canvas.addEventListener("mousedown", ev => { drag = { x: ev.clientX, y: ev.clientY, moved: false }; });
  window.addEventListener("mousemove", ev => {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true; canvas.classList.add("panning");
    const v = states[current].view; v.x += dx; v.y += dy; drag.x = ev.clientX; drag.y = ev.clientY;
    applyView();
  });
  window.addEventListener("mouseup", () => { canvas.classList.remove("panning"); setTimeout(() => { drag = null; }, 0); });
  canvas.addEventListener("wheel", ev => {
    ev.preventDefault();
    const v = states[current].view, r = canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    const f = Math.exp(-ev.deltaY * 0.0015), k = Math.min(4, Math.max(0.02, v.k * f));
    v.x = mx - (mx - v.x) * k / v.k; v.y = my - (my - v.y) * k / v.k; v.k = k;
    applyView();
  }, { passive: false });

  // ------------------------------------------------------------------ selection and details
  canvas.addEventListener("click", ev => {
    if (drag && drag.moved) return;
    const t = ev.target.closest("[data-toggle],[data-node],[data-group],[data-item]");
    if (!t) return;
    if (t.dataset.toggle != null) { toggle(+t.dataset.toggle); return; }
    if (t.dataset.node != null) select({ type: "node", index: +t.dataset.node });
    else if (t.dataset.group != null) select({ type: "group", index: +t.dataset.group });
    else select({ type: "item", index: +t.dataset.item });
  });
  canvas.addEventListener("dblclick", ev => {
    const t = ev.target.closest("[data-group]");
    if (t) toggle(+t.dataset.group);
  });

  function toggle(g) {
    const st = states[current];
    if (st.expanded.has(g)) st.expanded.delete(g); else st.expanded.add(g);
    render();
  }

  function select(sel) {
    states[current].selected = sel;
    render();
    showDetails(sel);
  }

  function row(k, v) { return `<tr><td>${esc(k)}</td><td>${v}</td></tr>`; }
  function statusRows(x) { return x.status ? row("status", `<b class="st-${x.status}">${esc(x.status)}</b>${x.why ? ": " + esc(x.why) : ""}`) : ""; }
  function layerRows(r) {
    if (!r) return "";
    return row("type", esc(r.type)) + row("output shapes", esc((r.output_shapes || []).map(s => s ? "(" + s.map(d => d == null ? "?" : d).join(", ") + ")" : "?").join(" "))) +
      row("parameters", num(r.params) + (r.non_trainable_params ? ` (${num(r.non_trainable_params)} non-trainable)` : "")) +
      row("MACs", r.macs == null ? "unknown" + (r.unknown_ops && r.unknown_ops.length ? " (" + esc(r.unknown_ops.join(", ")) + ")" : "") : count(r.macs)) +
      row("activations", bytes(r.activation_bytes)) + row("weights", bytes(r.weight_bytes)) +
      (r.shared_weights && r.shared_weights.length ? row("shared weights", esc(r.shared_weights.join(", "))) : "");
  }
  function weightTable(names) {
    const stats = DATA.weights[DATA.tabs[current].source] || {};
    if (!names || !names.length) return "";
    let h = "<h4>parameters</h4><table>";
    for (const w of names) {
      const s = stats[w] || {};
      h += row(w, `${esc((s.dtype || "") + "[" + (s.shape || []).map(d => d == null ? "?" : d).join(", ") + "]")} ${num(s.size)} values` +
        (s.trainable === false ? " (non-trainable)" : "") +
        (s.min !== undefined ? `<br>min ${fmt(s.min)} max ${fmt(s.max)}<br>mean ${fmt(s.mean)} std ${fmt(s.std)}` : ""));
    }
    return h + "</table>";
  }
  function tensorTable(title, rows) {
    if (!rows.length) return "";
    return `<h4>${title}</h4><table>` + rows.map(([n, s, d]) => row(n || "(absent)", esc(s + (d ? " " + d : "")))).join("") + "</table>";
  }
  function showDetails(sel) {
    const tab = DATA.tabs[current], box = document.getElementById("details");
    let h = "";
    if (sel.type === "node") {
      const n = tab.nodes[sel.index];
      h += `<h3>${esc(n.name)}</h3><table>` + row(n.kind === "call" ? "layer" : "op", esc(n.op)) +
        (n.scope ? row("layer", n.group >= 0 ? `<a data-go-group="${n.group}">${esc(n.scope)}</a>` : esc(n.scope)) : "") +
        (n.layer_type ? row("layer type", esc(n.layer_type)) : "") +
        (n.kind === "op" ? row("MACs", n.const ? "0 (constant: folded when the session loads)" : count(n.macs)) : "") +
        statusRows(n) + "</table>";
      if (n.row) h += "<h4>layer costs</h4><table>" + layerRows(n.row) + "</table>";
      const attrs = Object.entries(n.attrs);
      if (attrs.length) h += "<h4>attributes</h4><table>" + attrs.map(([k, v]) => row(k, esc(v))).join("") + "</table>";
      h += tensorTable("inputs", n.in) + tensorTable("outputs", n.out) + weightTable(n.weights);
    } else if (sel.type === "group") {
      const g = tab.groups[sel.index];
      h += `<h3>${esc(g.name)}</h3><table>` + layerRows(Object.keys(g.row || {}).length ? g.row : { type: g.type }) + row("ops", g.nodes.length) + statusRows(g) + "</table>";
      const ws = [...new Set(g.nodes.flatMap(i => tab.nodes[i].weights))];
      h += weightTable(ws);
      h += "<h4>ops</h4><table>" + g.nodes.map(i => row(tab.nodes[i].op, `<a data-go-node="${i}">${esc(tab.nodes[i].name)}</a>` + (tab.nodes[i].status ? ` <b>${tab.nodes[i].status}</b>` : ""))).join("") + "</table>";
      if (g.removed && g.removed.length) h += "<h4>removed from this layer</h4><pre>" + esc(g.removed.join("\n")) + "</pre>";
    } else {
      const it = tab.items[sel.index];
      h += `<h3>${esc(it.name)}</h3><table>` + row("kind", it.kind === "weight" ? "shared weight" : "graph " + it.kind) + row("shape", esc(it.shape)) + row("dtype", esc(it.dtype)) + "</table>";
      if (it.kind === "weight") {
        h += weightTable([it.name]);
        h += "<h4>read by</h4><table>" + it.readers.map(i => row(tab.nodes[i].op, `<a data-go-node="${i}">${esc(tab.nodes[i].name)}</a>`)).join("") + "</table>";
      }
    }
    box.innerHTML = h;
  }
  document.getElementById("side").addEventListener("click", ev => {
    const a = ev.target.closest("a[data-go-node],a[data-go-group]");
    if (!a) return;
    if (a.dataset.goNode != null) reveal({ type: "node", index: +a.dataset.goNode });
    else reveal({ type: "group", index: +a.dataset.goGroup });
  });

  // show a node (expanding its layer) or a layer, centred and selected
  function reveal(sel) {
    const tab = DATA.tabs[current], st = states[current];
    if (sel.type === "node" && tab.nodes[sel.index].group >= 0) st.expanded.add(tab.nodes[sel.index].group);
    select(sel);
    const P = st.placed;
    if (sel.type === "node") {
      const n = tab.nodes[sel.index];
      if (n.group >= 0) { const p = P.inner[n.group][localIndex(tab.groups[n.group], sel.index)]; centerOn(p[0], p[1]); }
      else centerOn(P.cx[n.item], P.cy[n.item]);
    } else if (sel.type === "group") { const i = itemOfGroup(tab, sel.index); centerOn(P.cx[i], P.cy[i]); }
    else centerOn(P.cx[sel.index], P.cy[sel.index]);
  }

  // ------------------------------------------------------------------ search
  const search = document.getElementById("search"), results = document.getElementById("results");
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase(), tab = DATA.tabs[current];
    if (!q) { results.style.display = "none"; return; }
    const found = [];
    tab.groups.forEach((g, i) => { if (found.length < 40 && g.name.toLowerCase().includes(q)) found.push(`<div data-hit-group="${i}">${esc(g.name)}<span class="op">layer \u00b7 ${esc(g.type)}</span></div>`); });
    tab.nodes.forEach((n, i) => { if (found.length < 40 && (n.name.toLowerCase().includes(q) || n.op.toLowerCase() === q)) found.push(`<div data-hit-node="${i}">${esc(n.name)}<span class="op">${esc(n.op)}</span></div>`); });
    tab.items.forEach((it, i) => { if (found.length < 40 && (it.kind === "input" || it.kind === "output" || it.kind === "weight") && it.name.toLowerCase().includes(q)) found.push(`<div data-hit-item="${i}">${esc(it.name)}<span class="op">${esc(it.kind)}</span></div>`); });
    results.innerHTML = found.length ? found.join("") : "<div>no match</div>";
    results.style.display = "block";
  });
  results.addEventListener("click", ev => {
    const d = ev.target.closest("div");
    if (!d) return;
    if (d.dataset.hitNode != null) reveal({ type: "node", index: +d.dataset.hitNode });
    else if (d.dataset.hitGroup != null) reveal({ type: "group", index: +d.dataset.hitGroup });
    else if (d.dataset.hitItem != null) reveal({ type: "item", index: +d.dataset.hitItem });
    results.style.display = "none";
  });

  // ------------------------------------------------------------------ tabs and summary
  function counts(tab) { return tab.changes; }
  function summary() {
    const tab = DATA.tabs[current], c = counts(tab);
    let h = `<h3>${esc(tab.title)}</h3><table>` + row("nodes", num(tab.counts.nodes)) + row("layers (groups of ops)", num(tab.counts.layers)) +
      (tab.compared_with ? row("compared with", esc(tab.compared_with)) : "") +
      (c.added ? row("added", `<b>${c.added}</b>`) : "") + (c.changed ? row("changed", `<b>${c.changed}</b>`) : "") +
      (c.removed ? row("removed", `<b>${c.removed}</b>`) : "") + "</table>";
    h += `<div class="legend"><span class="added">added</span><span class="changed">changed</span><span class="removed">removed</span><span class="weight">shared weight</span></div>`;
    if (tab.removed.length) h += `<details><summary>${tab.removed.length} nodes removed by this pass</summary><pre>` + esc(tab.removed.map(r => r.name + " (" + r.op + ")").join("\n")) + "</pre></details>";
    for (const note of DATA.notes || []) h += `<p class="hint">${esc(note)}</p>`;
    if (DATA.diff) h += `<details open><summary>differences</summary><pre id="diff-text">${esc(DATA.diff)}</pre></details>`;
    document.getElementById("summary").innerHTML = h;
  }
  function tabs() {
    document.getElementById("tabs").innerHTML = DATA.tabs.map((t, i) => {
      const c = counts(t), badge = [c.added ? "+" + c.added : "", c.changed ? "~" + c.changed : "", c.removed ? "\u2212" + c.removed : ""].filter(Boolean).join(" ");
      return `<button data-tab="${i}" class="${i === current ? "active" : ""}">${esc(t.name)}${badge ? `<span class="badge">${badge}</span>` : ""}</button>`;
    }).join("");
  }
  document.getElementById("tabs").addEventListener("click", ev => {
    const b = ev.target.closest("button[data-tab]");
    if (!b) return;
    show(+b.dataset.tab);
  });
  async function show(i) {
    await load(i);
    current = i;
    tabs(); summary(); render();
    const st = states[current];
    document.getElementById("details").innerHTML = st.selected ? "" : '<p class="hint">Click a node or a layer for its details; click + on a layer to show its ops. Drag to pan, wheel to zoom.</p>';
    if (st.selected) showDetails(st.selected);
    results.style.display = "none";
  }
  document.getElementById("fit").addEventListener("click", () => fit(true));
  document.getElementById("expand-all").addEventListener("click", () => {
    const st = states[current];
    DATA.tabs[current].groups.forEach((_, g) => st.expanded.add(g));
    render();
  });
  document.getElementById("collapse-all").addEventListener("click", () => { states[current].expanded.clear(); render(); });
  document.getElementById("title").textContent = DATA.title;

  // for tests and for the reader's console: the data, the state and what drew the page
  window.irgraph = { data: DATA, states, show, toggle, select, reveal, get current() { return current; } };
  const parsedAt = performance.now();
  show(current).then(() => {
    const drawnAt = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.irgraphRenderedAt = performance.now();
      window.irgraphTimings = { scriptStart: scriptStart, parsed: parsedAt, drawn: drawnAt, painted: window.irgraphRenderedAt };
      document.body.dataset.rendered = "1";
    }));
  });
})();
