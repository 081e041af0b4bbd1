// The plan review form: approve the proposed plan as it is, edit it (text, worker, dependencies; add or drop
// subtasks) and approve, or reject it with a reason. The gateway checks an edit as strictly as the planner's
// own output and says what is wrong.

import {api} from "./api.js";
import {h, errorText, clock} from "./util.js";

function sameRows(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function reviewForm(taskId, proposal, workerTypes, {onDone}) {
  const v = proposal.plan_version;
  const original = proposal.subtasks.map((s) => ({id: s.id, content: s.content, worker_type: s.worker_type,
                                                  dependencies: [...(s.dependencies || [])]}));
  let rows = original.map((s) => ({...s, dependencies: [...s.dependencies]}));
  const body = h("tbody");
  const error = h("p", {class: "error", role: "alert", id: `review-error-${v}`});
  const comment = h("input", {id: `review-comment-${v}`, type: "text"});
  const reason = h("input", {id: `review-reason-${v}`, type: "text"});
  const approve = h("button", {type: "button", class: "primary", id: `approve-${v}`, text: "Approve"});
  const reject = h("button", {type: "button", class: "danger", id: `reject-${v}`, text: "Reject"});
  const add = h("button", {type: "button", id: `add-subtask-${v}`, text: "Add subtask"});
  let counter = 1;

  function nextId() {
    const used = new Set(rows.map((r) => r.id));
    while (used.has(`new${counter}`)) counter += 1;
    return `new${counter}`;
  }

  function draw() {
    body.replaceChildren(...rows.map((r, i) => {
      const n = i + 1;
      const id = h("input", {type: "text", value: r.id, "aria-label": `Id of subtask row ${n}`, class: "mono id-input",
                             dataset: {field: "id"}});
      id.addEventListener("input", () => { r.id = id.value.trim(); sync(); });
      const content = h("textarea", {rows: 2, "aria-label": `Text of subtask ${r.id || n}`, dataset: {field: "content"}});
      content.value = r.content;
      content.addEventListener("input", () => { r.content = content.value; sync(); });
      const worker = h("select", {"aria-label": `Worker type of subtask ${r.id || n}`, dataset: {field: "worker"}},
        [...new Set([...workerTypes, r.worker_type])].filter(Boolean).map((w) =>
          h("option", {value: w, text: w, selected: w === r.worker_type})));
      worker.addEventListener("change", () => { r.worker_type = worker.value; sync(); });
      const deps = h("input", {type: "text", value: r.dependencies.join(", "), class: "mono",
                               "aria-label": `Dependencies of subtask ${r.id || n} (comma-separated ids)`,
                               dataset: {field: "deps"}});
      deps.addEventListener("input", () => {
        r.dependencies = deps.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
        sync();
      });
      const drop = h("button", {type: "button", class: "link", text: "Drop",
                                "aria-label": `Drop subtask ${r.id || n}`,
                                onclick: () => { rows.splice(i, 1); draw(); sync(); }});
      return h("tr", {dataset: {row: String(n)}}, h("td", {}, id), h("td", {}, content), h("td", {}, worker),
               h("td", {}, deps), h("td", {}, drop));
    }));
  }

  function edited() {
    return !sameRows(rows, original);
  }

  function sync() {
    approve.textContent = edited() ? "Approve edited plan" : "Approve";
  }

  async function decide(path, payload, button) {
    error.textContent = "";
    button.disabled = true;
    try {
      await api(`/v1/tasks/${encodeURIComponent(taskId)}/plan/${path}`, {method: "POST", json: payload});
      onDone(path);
    } catch (err) {
      error.textContent = errorText(err);
      button.disabled = false;
    }
  }

  add.addEventListener("click", () => {
    rows.push({id: nextId(), content: "", worker_type: workerTypes[0] || "", dependencies: []});
    draw();
    sync();
    body.querySelector("tr:last-child textarea").focus();
  });
  approve.addEventListener("click", () => {
    const payload = {plan_version: v, comment: comment.value};
    if (edited()) payload.subtasks = rows;
    decide("approve", payload, approve);
  });
  reject.addEventListener("click", () => {
    if (!reason.value.trim()) {
      error.textContent = "Say why the plan is rejected.";
      reason.focus();
      return;
    }
    decide("reject", {plan_version: v, reason: reason.value}, reject);
  });

  draw();
  sync();
  const what = proposal.replaced_subtask_id ? `Replan of subtask ${proposal.replaced_subtask_id}` : "Proposed plan";
  const deadline = proposal.deadline ? ` Decide by ${clock(proposal.deadline)}` +
    (proposal.timeout_policy ? ` (then it is ${proposal.timeout_policy === "approve" ? "approved" : "rejected"}).` : ".") : "";
  return h("section", {class: "card review", id: `review-${v}`, "aria-labelledby": `review-title-${v}`},
    h("h2", {id: `review-title-${v}`, text: `${what} — waiting for your approval`}),
    h("p", {class: "muted small", text: `Plan version ${v}. Edit the text, worker or dependencies of a subtask, ` +
                                        `add or drop subtasks, then approve; or reject it with a reason.${deadline}`}),
    h("div", {class: "table-wrap"}, h("table", {class: "review-table"},
      h("caption", {class: "sr-only", text: "Proposed subtasks"}),
      h("thead", {}, h("tr", {}, ["Id", "Subtask", "Worker", "Depends on", ""].map((t) => h("th", {scope: "col", text: t})))),
      body)),
    h("div", {class: "actions"}, add),
    h("div", {class: "field"}, h("label", {for: `review-comment-${v}`, text: "Comment (optional)"}), comment),
    h("div", {class: "actions"}, approve),
    h("div", {class: "field"}, h("label", {for: `review-reason-${v}`, text: "Reason to reject"}), reason),
    h("div", {class: "actions"}, reject),
    error);
}
