// Task list: status, age, subtasks, tokens, replans, the answer or why it failed; filter by status; refreshed every 2 s.

import {api} from "../api.js";
import {h, age, badge, num, short, tokens, STATUSES, statusLabel, errorText} from "../util.js";

export function mount(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  let filter = params.get("status") || sessionStorage.getItem("wf-task-filter") || "";
  const select = h("select", {id: "status-filter"},
    h("option", {value: "", text: "all"}),
    STATUSES.map((s) => h("option", {value: s, text: statusLabel(s), selected: s === filter})));
  const updated = h("span", {class: "muted small", "aria-live": "off", id: "tasks-updated"});
  const error = h("p", {class: "error", role: "alert"});
  const body = h("tbody");
  const table = h("table", {class: "tasks", id: "task-table"},
    h("caption", {class: "sr-only", text: "Tasks, newest first"}),
    h("thead", {}, h("tr", {},
      ["Task", "Status", "Age", "Subtasks", "Tokens", "Replans", "Answer or reason"].map(
        (t) => h("th", {scope: "col", text: t})))),
    body);
  main.append(
    h("div", {class: "page-head"},
      h("h1", {tabindex: "-1", text: "Tasks"}),
      h("div", {class: "filters"}, h("label", {for: "status-filter", text: "Status"}), select, updated),
      h("a", {class: "button primary", href: "#/submit", text: "New task"})),
    error, h("div", {class: "table-wrap"}, table));

  let timer = 0;
  let controller = new AbortController();
  async function refresh() {
    clearTimeout(timer);
    try {
      const q = new URLSearchParams({limit: "100"});
      if (filter) q.set("status", filter);
      const {tasks} = await api(`/v1/tasks?${q}`, {signal: controller.signal});
      body.replaceChildren(...(tasks.length ? tasks.map(row) : [h("tr", {}, h("td", {colspan: 7, class: "muted",
        text: filter ? `No ${statusLabel(filter)} tasks.` : "No tasks yet."}))]));
      updated.textContent = `updated ${new Date().toLocaleTimeString([], {hour12: false})}`;
      error.textContent = "";
    } catch (err) {
      if (err.name === "AbortError") return;
      error.textContent = `Could not load tasks: ${errorText(err)}`;
    }
    timer = setTimeout(refresh, 2000);
  }
  function row(t) {
    return h("tr", {dataset: {task: t.task_id, status: t.status}},
      h("td", {}, h("a", {href: `#/tasks/${t.task_id}`, text: short(t.question, 90)}),
        h("div", {class: "muted small mono", text: t.task_id})),
      h("td", {}, badge(t.status)),
      h("td", {class: "nowrap", text: age(t.created_at)}),
      h("td", {text: t.subtasks_total ? `${t.subtasks_done || 0}/${t.subtasks_total}` : "—"}),
      h("td", {class: "num", text: num(tokens(t.usage))}),
      h("td", {class: "num", text: String(t.replans || 0)}),
      h("td", {class: t.answer ? "outcome" : "outcome error-text", title: t.answer || t.failure_reason || "",
               text: short(t.answer || t.failure_reason || "", 80)}));
  }
  select.addEventListener("change", () => {
    filter = select.value;
    sessionStorage.setItem("wf-task-filter", filter);
    refresh();
  });
  refresh();
  return () => { clearTimeout(timer); controller.abort(); };
}
