// One task, live: its attached files, the plan as a graph, plan review, tool calls waiting for approval, the event
// timeline (resumes after a reconnect from the last sequence it showed), a subtask's result and trajectory, token
// usage by role, the answer, cancel.

import {api, authHeaders, ApiError, download} from "../api.js";
import {EventStream} from "../sse.js";
import {renderGraph} from "../graph.js";
import {PlanModel} from "../plan_model.js";
import {reviewForm} from "../review.js";
import {Timeline} from "../timeline.js";
import {ToolApprovals} from "../tool_review.js";
import {h, age, badge, bytes, num, short, statusName, errorText, toast, TERMINAL} from "../util.js";

const TERMINAL_EVENTS = new Set(["task.succeeded", "task.failed", "task.cancelled"]);

export function mount(main, {taskId}) {
  const model = new PlanModel();
  const timeline = new Timeline();
  let record = null;
  let selected = null;
  let workerTypes = [];
  const forms = new Map();
  const controller = new AbortController();

  const title = h("h1", {tabindex: "-1"}, "Task ", h("span", {class: "mono", text: taskId}));
  const status = h("span", {id: "task-status"});
  const meta = h("span", {class: "muted small", id: "task-meta"});
  const streamState = h("span", {class: "stream-state", id: "stream-state", role: "status", text: "connecting"});
  const question = h("p", {class: "question", id: "task-question"});
  const files = h("section", {class: "card files", id: "task-files", "aria-labelledby": "files-title", hidden: true});
  const reviews = h("div", {id: "reviews"});
  const toolApprovals = new ToolApprovals(taskId);
  const graph = h("div", {class: "graph", id: "plan-graph", role: "group", "aria-label": "Plan: subtasks by dependency"});
  const legend = h("p", {class: "legend small muted", "aria-hidden": "true"},
    ["planned", "proposed", "pending", "dispatched", "done", "failed", "replaced", "cancelled", "rejected"].map(
      (s) => h("span", {class: `key st-${s}`, text: s})),
    h("span", {class: "key"}, h("span", {class: "line"}), "depends on"),
    h("span", {class: "key"}, h("span", {class: "line line-replaced"}), "replaced by"));
  const detail = h("aside", {class: "card detail", id: "subtask-detail", "aria-live": "polite", "aria-label": "Subtask"},
    h("p", {class: "muted", text: "Select a subtask to see its result and trajectory."}));
  const outcome = h("section", {id: "outcome", "aria-label": "Outcome"});
  const usage = h("section", {class: "card", id: "usage", "aria-labelledby": "usage-title"});
  const error = h("p", {class: "error", role: "alert"});

  const cancelReason = h("input", {id: "cancel-reason", type: "text", placeholder: "optional"});
  const cancelConfirm = h("button", {type: "button", class: "danger", id: "cancel-confirm", text: "Confirm cancel"});
  const cancelBox = h("div", {class: "cancel-box", hidden: true},
    h("label", {for: "cancel-reason", text: "Reason"}), cancelReason, cancelConfirm);
  const cancelButton = h("button", {type: "button", id: "cancel-task", "aria-expanded": "false", text: "Cancel task…",
    onclick: () => {
      cancelBox.hidden = !cancelBox.hidden;
      cancelButton.setAttribute("aria-expanded", String(!cancelBox.hidden));
      if (!cancelBox.hidden) cancelReason.focus();
    }});
  cancelConfirm.addEventListener("click", async () => {
    cancelConfirm.disabled = true;
    try {
      record = await api(`/v1/tasks/${encodeURIComponent(taskId)}/cancel`, {method: "POST",
                                                                           json: {reason: cancelReason.value}});
      cancelBox.hidden = true;
      toast("Task cancelled.");
      drawRecord();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      cancelConfirm.disabled = false;
    }
  });

  main.append(
    h("div", {class: "page-head"}, title, status, meta, streamState, h("div", {class: "grow"}), cancelButton),
    cancelBox, error, question, files, reviews, toolApprovals.section,
    h("div", {class: "task-grid"},
      h("section", {class: "card plan", "aria-labelledby": "plan-title"},
        h("h2", {id: "plan-title", text: "Plan"}), legend, graph),
      detail),
    outcome,
    h("div", {class: "task-grid"},
      h("section", {class: "card", "aria-labelledby": "events-title"},
        h("h2", {id: "events-title"}, "Events ", h("span", {class: "muted small", id: "event-count"})),
        timeline.list),
      usage));

  // ---- drawing ----

  let graphQueued = false;
  let drawn = "";
  function drawGraph() {
    if (graphQueued) return;
    graphQueued = true;
    requestAnimationFrame(() => {
      graphQueued = false;
      const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.subtask : null;
      const nodes = model.list();
      const signature = JSON.stringify([nodes, selected]);
      if (signature !== drawn) {  // redraw only what changed: focus and the reader's place stay put
        drawn = signature;
        if (!nodes.length) {
          graph.replaceChildren(h("p", {class: "muted", text: "No plan yet."}));
        } else {
          renderGraph(graph, nodes, {selected, onSelect: select});
        }
      }
      if (focused) {
        const again = graph.querySelector(`[data-subtask="${CSS.escape(focused)}"]`);
        if (again) again.focus({preventScroll: true});
      }
      if (selected) drawDetail();
      drawReviews();
    });
  }

  function drawRecord() {
    if (!record) return;
    const s = statusName(record.status);
    status.replaceChildren(badge(record.status));
    status.dataset.status = s;
    const subtasks = record.subtasks_total ? `${record.subtasks_done || 0}/${record.subtasks_total} subtasks` : "no subtasks";
    meta.textContent = `${age(record.created_at)} old · ${subtasks} · ${record.replans || 0} replans`;
    meta.dataset.rest = ` · ${subtasks} · ${record.replans || 0} replans`;
    question.textContent = record.question;
    drawFiles(record.files || []);
    cancelButton.hidden = TERMINAL.has(s);
    if (TERMINAL.has(s)) cancelBox.hidden = true;
    if (s === "SUCCEEDED") {
      outcome.replaceChildren(h("div", {class: "card answer", id: "answer"},
        h("h2", {text: "Answer"}), h("p", {class: "answer-text", text: record.answer || ""})));
    } else if (s === "FAILED" || s === "CANCELLED") {
      outcome.replaceChildren(h("div", {class: "card failure", id: "failure"},
        h("h2", {text: s === "FAILED" ? "Failed" : "Cancelled"}), h("p", {text: record.failure_reason || ""})));
    } else {
      outcome.replaceChildren();
    }
    const roles = Object.entries(record.usage || {}).sort();
    let total = 0;
    usage.replaceChildren(h("h2", {id: "usage-title", text: "Tokens by role"}),
      roles.length ? h("div", {class: "scroll-x"}, h("table", {id: "usage-table"},
        h("thead", {}, h("tr", {}, ["Role", "Prompt", "Completion", "Calls"].map((t) => h("th", {scope: "col", text: t})))),
        h("tbody", {}, roles.map(([role, u]) => {
          total += Number(u.prompt_tokens || 0) + Number(u.completion_tokens || 0);
          return h("tr", {}, h("th", {scope: "row", class: "mono", text: role}),
            h("td", {class: "num", text: num(u.prompt_tokens)}), h("td", {class: "num", text: num(u.completion_tokens)}),
            h("td", {class: "num", text: num(u.requests)}));
        })),
        h("tfoot", {}, h("tr", {}, h("th", {scope: "row", text: "total"}), h("td", {colspan: 3, class: "num",
          text: num(total)}))))) : h("p", {class: "muted", text: "No model calls yet."}));
  }

  // The files given at submit (the record's FileRefs); the API has no route to download them.
  let filesDrawn = "";
  function drawFiles(refs) {
    const signature = JSON.stringify(refs);
    if (signature === filesDrawn) return;
    filesDrawn = signature;
    files.hidden = !refs.length;
    files.replaceChildren(
      h("h2", {id: "files-title"}, "Files ", h("span", {class: "muted small", text: `(${refs.length})`})),
      h("ul", {class: "file-list"}, refs.map((f) => h("li", {dataset: {file: f.name}},
        h("span", {class: "mono file-name", text: f.name}),
        h("span", {class: "muted small", text: `${f.media_type || "unknown type"} · ${bytes(f.size)}`})))));
  }

  function drawReviews() {
    const waiting = new Set(model.proposals.map((p) => p.plan_version));
    for (const [v, form] of forms) {
      if (!waiting.has(v)) { form.remove(); forms.delete(v); }
    }
    if (record && TERMINAL.has(statusName(record.status))) return;
    for (const p of model.proposals) {
      if (forms.has(p.plan_version)) continue;
      const form = reviewForm(taskId, p, workerTypes, {onDone: (what) => {
        toast(what === "approve" ? "Plan approved." : "Plan rejected.");
        form.remove();
        forms.delete(p.plan_version);
        model.decide(p.plan_version);
        refreshSoon();
      }});
      forms.set(p.plan_version, form);
      reviews.append(form);
    }
  }

  function select(id) {
    selected = selected === id ? null : id;
    drawGraph();
    drawDetail();
  }

  function drawDetail() {
    const n = selected && model.nodes.get(selected);
    if (!n) {
      detail.replaceChildren(h("p", {class: "muted", text: "Select a subtask to see its result and trajectory."}));
      return;
    }
    const trajectory = h("div", {class: "trajectory", id: "trajectory"});
    const show = h("button", {type: "button", id: "show-trajectory", text: "Show trajectory", onclick: async () => {
      show.disabled = true;
      try {
        const {events} = await api(`/v1/tasks/${encodeURIComponent(taskId)}/subtasks/${encodeURIComponent(n.id)}/trajectory`);
        trajectory.replaceChildren(h("h3", {text: `Trajectory (${events.length} events)`}),
          h("ol", {}, events.map((e) => h("li", {},
            h("span", {class: "mono", text: e.type}), " ", h("span", {text: short(e.message, 300)}),
            e.data ? h("details", {}, h("summary", {text: "data"}),
                                   h("pre", {class: "json", text: short(JSON.stringify(e.data, null, 2), 30000)})) : null))));
      } catch (err) {
        trajectory.replaceChildren(h("p", {class: "error", role: "alert", text: errorText(err)}));
      } finally {
        show.disabled = false;
      }
    }});
    detail.replaceChildren(...[
      h("h2", {}, "Subtask ", h("span", {class: "mono", text: n.id})),
      h("dl", {class: "facts"},
        h("dt", {text: "Status"}), h("dd", {}, h("span", {class: `badge st-${n.status}`, text: n.status})),
        h("dt", {text: "Worker"}), h("dd", {class: "mono", text: n.worker || "—"}),
        h("dt", {text: "Attempts"}), h("dd", {text: String(n.attempts || 0)}),
        h("dt", {text: "Depends on"}), h("dd", {class: "mono", text: n.deps.join(", ") || "—"}),
        n.replaces ? [h("dt", {text: "Replaces"}), h("dd", {class: "mono", text: n.replaces})] : null),
      h("h3", {text: "Subtask"}), h("p", {class: "pre", text: n.content}),
      n.result ? [h("h3", {text: "Result"}), h("p", {class: "pre", id: "subtask-result", text: n.result})] : null,
      n.files && n.files.length ? [h("h3", {text: "Files"}), h("ul", {id: "subtask-files"}, n.files.map((f) => {
        const status = h("span", {class: "muted"});
        const path = `/v1/tasks/${encodeURIComponent(taskId)}/subtasks/${encodeURIComponent(n.id)}/files/` +
          encodeURIComponent(f.name);
        return h("li", {},
          h("button", {type: "button", class: "file-link", text: f.name, "aria-label": `Download ${f.name}`,
                       onclick: async () => {
            status.textContent = "";
            try {
              await download(path, f.name);
            } catch (err) {
              status.textContent = " " + errorText(err);
            }
          }}), ` (${f.size || 0} bytes)`, status);
      }))] : null,
      n.failure ? [h("h3", {text: "Failure"}), h("p", {class: "pre error-text", text: n.failure})] : null,
      show, trajectory].flat().filter(Boolean));
  }

  // ---- data ----

  // One refresh at a time, the newest state kept: a reply read earlier but arriving later (a slow gateway or
  // network) must not overwrite a newer record, and after the task's last event the page asks again until it has
  // the final record — nothing else would ask once the event stream has ended.
  let refreshTimer = 0;
  let refreshing = null;
  let again = false;
  let ended = false;
  function refreshSoon(ms = 400) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, ms);
  }

  function newer(next) {
    if (!record) return true;
    if (TERMINAL.has(statusName(record.status))) return TERMINAL.has(statusName(next.status)) &&
      Date.parse(next.updated_at || 0) >= Date.parse(record.updated_at || 0);
    return !(Date.parse(next.updated_at || 0) < Date.parse(record.updated_at || 0));
  }

  function refresh(withPlan = false) {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        const next = await api(`/v1/tasks/${encodeURIComponent(taskId)}`, {signal: controller.signal});
        const s = statusName(next.status);
        const plan = withPlan || TERMINAL.has(s) || s === "AWAITING_APPROVAL" ?
          await api(`/v1/tasks/${encodeURIComponent(taskId)}/plan`, {signal: controller.signal}) : null;
        if (newer(next)) {
          record = next;
          if (plan) {
            model.reconcile(plan);
            drawGraph();
          }
        }
        drawRecord();
        error.textContent = "";
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && !record) notFound(err);
        else if (err.name !== "AbortError") error.textContent = errorText(err);
      }
    })();
    return refreshing.finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      } else if (ended && !(record && TERMINAL.has(statusName(record.status))) && !controller.signal.aborted) {
        refreshSoon(1000);  // the task ended but this record does not say so yet: ask again
      }
    });
  }

  function notFound(err) {   // nothing of a task to show, and nothing to follow or cancel
    controller.abort();
    clearTimeout(refreshTimer);
    main.replaceChildren(
      h("div", {class: "page-head"}, h("h1", {tabindex: "-1", text: "Task not found"})),
      h("p", {class: "error", role: "alert", id: "not-found", text: `${errorText(err)} (or it belongs to another API key).`}),
      h("p", {}, h("a", {href: "#/tasks", text: "All tasks"})));
  }

  const count = () => document.getElementById("event-count");
  const stream = new EventStream(taskId, {
    authHeaders,
    onEvent: (e) => {
      timeline.add(e);
      const c = count();
      if (c) c.textContent = `(${timeline.count})`;
      if (model.apply(e)) drawGraph();
      toolApprovals.apply(e);
      if (TERMINAL_EVENTS.has(e.type)) toolApprovals.clear();
      refreshSoon(e.type.startsWith("task.") ? 0 : 400);
    },
    onState: (state, detailText) => {
      streamState.textContent = state === "ended" ? "finished" : state;
      streamState.dataset.state = state;
      if (state === "reconnecting" && detailText) streamState.title = detailText;
      if (state === "live" && stream.reconnects) refreshSoon(0);
      if (state === "ended") {
        ended = true;
        refreshSoon(0);
      }
    },
  });

  api("/v1/workers", {signal: controller.signal}).then(({pools}) => {
    workerTypes = pools.map((p) => p.worker_type);
  }).catch(() => {}).finally(() => {
    refresh(false).then(() => { if (!controller.signal.aborted) stream.run(); });
  });

  // The age goes on while nothing else changes (a task waiting for review redraws nothing for minutes).
  const ageTimer = setInterval(() => {
    if (!record || meta.dataset.rest === undefined) return;
    meta.textContent = `${age(record.created_at)} old${meta.dataset.rest}`;
  }, 1000);

  return () => {
    stream.stop();
    controller.abort();
    clearTimeout(refreshTimer);
    clearInterval(ageTimer);
  };
}
