// The plan as a graph: subtasks are buttons (keyboard-reachable, labelled) placed in columns by dependency
// depth; dependency edges and "replaced by" links are drawn in an SVG underneath. A dependency goes from the
// middle of one node's right side to the middle of the next one's left; a "replaced by" link leaves the replaced
// node low on its side and enters each replacement high on its left, so it never meets a dependency's ends.

import {h, short} from "./util.js";

const COL = 236, ROW = 96, NODE_W = 200, NODE_H = 78, PAD = 16;
const LINK_DY = 16, GUTTER = 9;  // "replaced by" links: their ends' distance from a node's top or bottom; their lane
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// nodes: [{id, content, worker, status, attempts, deps, replaces}] in insertion order
export function layout(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const visiting = new Set();
  function d(n) {
    if (depth.has(n.id)) return depth.get(n.id);
    if (visiting.has(n.id)) return 0;  // a cycle cannot be shown as layers; the API refuses them anyway
    visiting.add(n.id);
    let v = 0;
    for (const dep of n.deps || []) if (byId.has(dep)) v = Math.max(v, d(byId.get(dep)) + 1);
    if (n.replaces && byId.has(n.replaces)) v = Math.max(v, d(byId.get(n.replaces)));
    visiting.delete(n.id);
    depth.set(n.id, v);
    return v;
  }
  const columns = [];
  for (const n of nodes) {
    const c = d(n);
    (columns[c] = columns[c] || []).push(n);
  }
  const pos = new Map();
  columns.forEach((col, c) => (col || []).forEach((n, r) => pos.set(n.id, {x: PAD + c * COL, y: PAD + r * ROW})));
  const width = PAD * 2 + Math.max(1, columns.length) * COL - (COL - NODE_W);
  const height = PAD * 2 + Math.max(1, ...columns.map((c) => (c || []).length)) * ROW - (ROW - NODE_H);
  return {pos, width, height};
}

export function renderGraph(container, nodes, {selected, onSelect}) {
  const {pos, width, height} = layout(nodes);
  const box = h("div", {class: "graph-canvas", style: {width: `${width}px`, height: `${height}px`}});
  const edges = svg("svg", {width, height, class: "graph-edges", "aria-hidden": "true"});
  const defs = svg("defs", {});
  for (const [id, cls] of [["arrow", "arrowhead"], ["arrow-replaced", "arrowhead-replaced"]]) {
    const marker = svg("marker", {id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                                  orient: "auto-start-reverse"});
    marker.append(svg("path", {d: "M 0 0 L 10 5 L 0 10 z", class: cls}));
    defs.append(marker);
  }
  edges.append(defs);
  const curve = (x1, y1, x2, y2) => {
    const mx = (x1 + x2) / 2;
    return `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`;
  };
  for (const n of nodes) {
    const to = pos.get(n.id);
    for (const dep of n.deps || []) {
      if (!pos.has(dep)) continue;
      const from = pos.get(dep);
      edges.append(svg("path", {d: curve(from.x + NODE_W, from.y + NODE_H / 2, to.x, to.y + NODE_H / 2), class: "edge",
                                "marker-end": "url(#arrow)"}));
    }
    if (n.replaces && pos.has(n.replaces)) {
      const from = pos.get(n.replaces);
      const y1 = from.y + NODE_H - LINK_DY, y2 = to.y + LINK_DY;
      // In one column: out of the replaced node's left side into the lane beside the column and along it, so
      // several replacements branch off one line instead of seeming to follow one another.
      const d = from.x === to.x ? `M ${from.x} ${y1} H ${from.x - GUTTER} V ${y2} H ${to.x - 2}`
                                : curve(from.x + NODE_W, y1, to.x, y2);
      const link = svg("path", {d, class: "edge-replaced", "marker-end": "url(#arrow-replaced)"});
      const title = svg("title", {});
      title.textContent = `${n.replaces} replaced by ${n.id}`;
      link.append(title);
      edges.append(link);
    }
  }
  box.append(edges);
  for (const n of nodes) {
    const p = pos.get(n.id);
    const status = n.status || "planned";
    const label = `Subtask ${n.id}, ${status.replace(/_/g, " ")}` + (n.worker ? `, worker ${n.worker}` : "") +
      (n.attempts ? `, attempt ${n.attempts}` : "") + (n.replaces ? `, replaces ${n.replaces}` : "") +
      `: ${short(n.content, 80)}`;
    const node = h("button", {type: "button", class: `node st-${status}${selected === n.id ? " selected" : ""}`,
                              style: {left: `${p.x}px`, top: `${p.y}px`,
                                     width: `${NODE_W}px`, height: `${NODE_H}px`},
                              "aria-label": label, "aria-pressed": selected === n.id ? "true" : "false",
                              dataset: {subtask: n.id, status},
                              onclick: () => onSelect(n.id)},
      h("span", {class: "node-head"},
        h("span", {class: "node-id", text: n.id}),
        h("span", {class: "node-worker", text: n.worker || "—"}),
        n.attempts > 1 ? h("span", {class: "node-attempts", text: `×${n.attempts}`}) : null),
      h("span", {class: "node-text", text: short(n.content, 70)}),
      h("span", {class: "node-status", text: status.replace(/_/g, " ")}));
    box.append(node);
  }
  container.replaceChildren(box);
}
