// Tool calls held for a person's approval (WF_APPROVE_TOOLS), built from the task's events: a
// tool.approval_requested event adds a card with the tool, its arguments and Approve / Deny; the decision's event
// (tool.approved / tool.denied — a person's, or the timeout's) takes it away.

import {api} from "./api.js";
import {h, errorText, clock, toast} from "./util.js";

export class ToolApprovals {
  constructor(taskId) {
    this.taskId = taskId;
    this.cards = new Map();   // call id → its card
    this.section = h("div", {id: "tool-approvals"});
  }

  // Returns true when the event was about a gated tool call.
  apply(e) {
    const d = e.data || {};
    if (e.type === "tool.approval_requested") {
      if (!this.cards.has(d.call_id)) this.add(e.subtask_id || "", d);
      return true;
    }
    if (e.type === "tool.approved" || e.type === "tool.denied") {
      this.remove(d.call_id);
      return true;
    }
    return false;
  }

  clear() {
    for (const id of [...this.cards.keys()]) this.remove(id);
  }

  remove(callId) {
    const card = this.cards.get(callId);
    if (card) card.remove();
    this.cards.delete(callId);
  }

  add(subtaskId, d) {
    const n = this.cards.size + 1;
    const key = `tc-${String(d.call_id).replace(/[^A-Za-z0-9_-]/g, "-")}`;
    const what = `${d.tool} call in subtask ${subtaskId}`;
    const error = h("p", {class: "error", role: "alert"});
    const note = h("input", {id: `${key}-note`, type: "text"});
    const approve = h("button", {type: "button", class: "primary", text: "Approve",
                                 "aria-label": `Approve the ${what}`});
    const deny = h("button", {type: "button", class: "danger", text: "Deny", "aria-label": `Deny the ${what}`});
    let args = d.arguments || "";
    try { args = JSON.stringify(JSON.parse(args), null, 2); } catch { /* shown as it came */ }
    const decide = async (verdict, button) => {
      error.textContent = "";
      approve.disabled = deny.disabled = true;
      const payload = verdict === "approve" ? {comment: note.value} : {reason: note.value};
      try {
        await api(`/v1/tasks/${encodeURIComponent(this.taskId)}/tool-calls/${encodeURIComponent(d.call_id)}/${verdict}`,
                  {method: "POST", json: payload});
        toast(verdict === "approve" ? `${d.tool} approved.` : `${d.tool} denied.`);
        this.remove(d.call_id);
      } catch (err) {
        error.textContent = errorText(err);
        if (err.status === 409) setTimeout(() => this.remove(d.call_id), 4000);  // someone decided first
        else approve.disabled = deny.disabled = false;
      }
      button.blur();
    };
    approve.addEventListener("click", () => decide("approve", approve));
    deny.addEventListener("click", () => decide("deny", deny));
    const then = d.timeout_policy === "approve" ? "approved" : "denied";
    const card = h("section", {class: "card review tool-review", "aria-labelledby": `${key}-title`,
                               dataset: {call: d.call_id, tool: d.tool || ""}},
      h("h2", {id: `${key}-title`}, "Tool call waiting for your approval: ", h("span", {class: "mono", text: d.tool}),
        ` (subtask ${subtaskId})`),
      h("p", {class: "muted small", text: `Call ${d.call_index || n} of attempt ${d.attempt_id || "?"} on a ` +
        `${d.worker_type || "?"} worker. Decide by ${clock(d.deadline)} (then it is ${then}).`}),
      h("pre", {class: "json tool-arguments", text: args}),
      h("div", {class: "field"}, h("label", {for: `${key}-note`, text: "Comment, or why it is denied (optional)"}), note),
      h("div", {class: "actions"}, approve, deny),
      error);
    this.cards.set(d.call_id, card);
    this.section.append(card);
  }
}
