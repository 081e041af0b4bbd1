// Small DOM and formatting helpers. Text is always set as text (never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);  // CSSOM, which the page's CSP allows (no style attribute)
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
export const STATUSES = ["QUEUED", "PLANNING", "AWAITING_APPROVAL", "RUNNING", "SYNTHESIZING", "SUCCEEDED", "FAILED",
                         "CANCELLED"];

export function statusName(s) {
  return String(s || "UNSPECIFIED").replace(/^(TASK|SUBTASK)_STATUS_/, "");
}

export function statusLabel(s) {
  return statusName(s).toLowerCase().replace(/_/g, " ");
}

export function badge(status) {
  const name = statusName(status);
  return h("span", {class: `badge st-${name.toLowerCase()}`, text: statusLabel(name)});
}

export function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString([], {hour12: false});
}

export function tokens(usage) {
  let n = 0;
  for (const u of Object.values(usage || {})) n += Number(u.prompt_tokens || 0) + Number(u.completion_tokens || 0);
  return n;
}

export function num(n) {
  return Number(n || 0).toLocaleString("en-US");
}

export function bytes(n) {
  n = Number(n || 0);
  if (n < 1024) return `${n} B`;
  const [v, unit] = n < 1024 ** 2 ? [n / 1024, "KiB"] : n < 1024 ** 3 ? [n / 1024 ** 2, "MiB"] : [n / 1024 ** 3, "GiB"];
  return `${v.toFixed(v < 10 ? 1 : 0)} ${unit}`;
}

export function short(text, n = 120) {
  text = String(text || "");
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

let toastTimer = 0;
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 4000);
}

export function errorText(err) {
  return err && err.message ? err.message : String(err);
}
