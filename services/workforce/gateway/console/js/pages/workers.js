// Worker pools: replicas, capacity, busy slots, queue depth; replicas with their heartbeats; recent failures.

import {api} from "../api.js";
import {h, age, clock, short, errorText} from "../util.js";

// The heading stays put above a table that scrolls sideways on a narrow screen.
function table(id, caption, headers, rows, empty) {
  return h("section", {"aria-labelledby": `${id}-title`},
    h("h2", {class: "table-title", id: `${id}-title`, text: caption}),
    h("div", {class: "table-wrap workers-table"}, h("table", {id, "aria-labelledby": `${id}-title`},
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", {scope: "col", text: t})))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", {colspan: headers.length, class: "muted", text: empty}))))));
}

export function mount(main) {
  const content = h("div", {});
  const error = h("p", {class: "error", role: "alert"});
  const updated = h("span", {class: "muted small"});
  main.append(h("div", {class: "page-head"}, h("h1", {tabindex: "-1", text: "Workers"}), updated), error, content);
  const controller = new AbortController();
  let timer = 0;

  async function refresh() {
    clearTimeout(timer);
    try {
      const [{pools, instances}, {failures}] = await Promise.all([
        api("/v1/workers", {signal: controller.signal}),
        api("/v1/workers/failures?limit=30", {signal: controller.signal})]);
      const busy = {};
      for (const i of instances) busy[i.worker_type] = (busy[i.worker_type] || 0) + Number(i.busy || 0);
      const failed = {};
      for (const f of failures) failed[f.worker_type] = (failed[f.worker_type] || 0) + 1;
      content.replaceChildren(
        table("pools", "Pools", ["Worker type", "Replicas", "Busy / capacity", "Queue depth", "Failures (1 h)", "Tools"],
          pools.map((p) => h("tr", {dataset: {pool: p.worker_type}},
            h("th", {scope: "row"}, h("span", {class: "mono", text: p.worker_type}),
              h("div", {class: "muted small", text: short(p.description, 100)})),
            h("td", {class: "num", text: String(p.replicas || 0)}),
            h("td", {class: "num", text: `${busy[p.worker_type] || 0} / ${p.capacity || 0}`}),
            h("td", {class: "num" + (Number(p.queue_depth || 0) > Number(p.capacity || 0) ? " warn" : ""),
                     text: String(p.queue_depth || 0)}),
            h("td", {class: "num" + (failed[p.worker_type] ? " bad" : ""), text: String(failed[p.worker_type] || 0)}),
            h("td", {class: "small", text: (p.tools || []).join(", ")}))),
          "No worker is registered."),
        table("instances", "Replicas", ["Instance", "Type", "Busy / concurrency", "Last heartbeat"],
          instances.map((i) => h("tr", {},
            h("td", {class: "mono small", text: i.instance_id}), h("td", {class: "mono", text: i.worker_type}),
            h("td", {class: "num", text: `${i.busy || 0} / ${i.concurrency || 0}`}),
            h("td", {text: `${age(i.heartbeat_at)} ago`}))),
          "No replica."),
        table("failures", "Recent failures", ["Time", "Worker type", "Task / subtask", "Reason"],
          failures.map((f) => h("tr", {},
            h("td", {text: clock(f.time)}), h("td", {class: "mono", text: f.worker_type}),
            h("td", {}, h("a", {href: `#/tasks/${f.task_id}`, class: "mono small", text: `${f.task_id} / ${f.subtask_id}`})),
            h("td", {class: "small outcome", text: short(f.reason, 200)}))),
          "No failures in the last hour."));
      updated.textContent = `updated ${new Date().toLocaleTimeString([], {hour12: false})}`;
      error.textContent = "";
    } catch (err) {
      if (err.name === "AbortError") return;
      error.textContent = `Could not load workers: ${errorText(err)}`;
    }
    timer = setTimeout(refresh, 3000);
  }
  refresh();
  return () => { clearTimeout(timer); controller.abort(); };
}
