// The plan as the console draws it, built from the task's events (and reconciled with GET …/plan).
// Node statuses: planned (from the planner, not assigned yet), proposed (awaiting approval), rejected,
// pending, dispatched, done, failed, replaced, cancelled.

import {statusName} from "./util.js";

export class PlanModel {
  constructor() {
    this.nodes = new Map();   // id → {id, content, worker, status, attempts, deps, replaces, result, failure, instance}
    this.proposals = [];      // [{plan_version, replaced_subtask_id, subtasks, deadline}] waiting for a decision
    this.decided = new Set(); // plan versions decided (here or by an event): a plan read earlier never revives them
  }

  decide(version) {
    this.decided.add(Number(version || 0));
    this.proposals = this.proposals.filter((p) => !this.decided.has(p.plan_version));
  }

  list() {
    return [...this.nodes.values()];
  }

  node(id) {
    let n = this.nodes.get(id);
    if (!n) {
      n = {id, content: "", worker: "", status: "planned", attempts: 0, deps: [], replaces: "", result: "", failure: ""};
      this.nodes.set(id, n);
    }
    return n;
  }

  // Applies one event; true when the drawing changed. Any event may set subtasks going (data.dispatched).
  apply(e) {
    let changed = this.applyOwn(e);
    for (const x of (e.data || {}).dispatched || []) {
      const n = this.node(x.subtask_id);
      n.status = "dispatched";
      n.worker = x.worker_type || n.worker;
      const attempt = Number(String(x.attempt_id || "").split("/").pop());
      n.attempts = Number.isFinite(attempt) && attempt > 0 ? attempt : n.attempts + 1;
      changed = true;
    }
    return changed;
  }

  applyOwn(e) {
    const d = e.data || {};
    const sid = e.subtask_id || "";
    switch (e.type) {
      case "plan.created":
      case "plan.replanned":
        for (const s of d.subtasks || []) {
          const n = this.node(s.id);
          n.content = s.content;
          n.deps = s.dependencies || [];
          if (e.type === "plan.replanned") n.replaces = sid;
        }
        return true;
      case "approval.requested":
        for (const s of d.subtasks || []) {
          const n = this.node(s.id);
          Object.assign(n, {content: s.content, worker: s.worker_type, deps: s.dependencies || [], status: "proposed"});
          if (d.replaced_subtask_id) n.replaces = d.replaced_subtask_id;
        }
        this.proposals = this.proposals.filter((p) => p.plan_version !== d.plan_version);
        this.proposals.push({plan_version: d.plan_version ?? 0, replaced_subtask_id: d.replaced_subtask_id || "",
                             subtasks: d.subtasks || [], deadline: d.deadline, timeout_policy: d.timeout_policy});
        return true;
      case "approval.approved":
      case "approval.edited": {
        const keep = new Set((d.subtasks || []).map((s) => s.id));
        for (const n of this.list()) {
          const inThisProposal = d.replaced_subtask_id ? n.replaces === d.replaced_subtask_id : !n.replaces;
          if ((n.status === "proposed" || n.status === "planned") && inThisProposal && !keep.has(n.id)) {
            this.nodes.delete(n.id);
          }
        }
        for (const s of d.subtasks || []) {
          const n = this.node(s.id);
          Object.assign(n, {content: s.content, worker: s.worker_type, deps: s.dependencies || [], status: "pending"});
          if (d.replaced_subtask_id) n.replaces = d.replaced_subtask_id;
        }
        this.decide(d.plan_version);
        return true;
      }
      case "approval.rejected":
        for (const n of this.list()) if (n.status === "proposed") n.status = "rejected";
        this.decide(d.plan_version);
        return true;
      case "plan.assigned":
        for (const s of d.subtasks || []) {  // the plan itself, when no plan.created told it (a quick assignment)
          const n = this.node(s.id);
          n.content = s.content;
          n.deps = s.dependencies || [];
        }
        for (const a of d.assignments || []) {
          const n = this.node(a.task_id);
          n.worker = a.assignee_id;
          n.deps = a.dependencies || n.deps;
          if (["planned", "proposed"].includes(n.status)) n.status = "pending";
          if (n.replaces && this.nodes.has(n.replaces)) this.nodes.get(n.replaces).status = "replaced";
        }
        // whoever depended on a replaced subtask now depends on its replacements
        for (const r of this.list().filter((x) => x.status === "replaced")) {
          const successors = this.list().filter((x) => x.replaces === r.id).map((x) => x.id);
          for (const n of this.list()) {
            if (n.deps.includes(r.id) && successors.length) {
              n.deps = [...new Set([...n.deps.filter((x) => x !== r.id), ...successors])];
            }
          }
        }
        return true;
      case "subtask.started":
        this.node(sid).instance = e.message || "";
        return false;
      case "subtask.succeeded": {
        const n = this.node(sid);
        n.status = "done";
        n.result = e.message || "";
        n.files = (e.data && e.data.files) || [];   // what the worker produced: downloadable
        return true;
      }
      case "subtask.failed": {
        const n = this.node(sid);
        n.status = "failed";
        n.failure = e.message || "";
        return true;
      }
      case "task.failed":
      case "task.cancelled":
        for (const n of this.list()) {
          if (["pending", "dispatched", "planned"].includes(n.status)) n.status = "cancelled";
          if (n.status === "proposed") n.status = "rejected";
        }
        this.proposals = [];
        return true;
      default:
        return false;
    }
  }

  // The coordinator's plan (GET …/plan) is the truth: take statuses, workers, attempts and results from it. A plan
  // read before a decision the page already knows of (an event, or its own approval) does not bring the decided
  // proposal back; a proposed node the plan knows nothing of (dropped by an edit) goes.
  reconcile(plan) {
    if (!plan) return;
    const proposals = (plan.proposals || []).map((p) => ({
      plan_version: Number(p.plan_version || 0), replaced_subtask_id: p.replaced_subtask_id || "",
      deadline: p.deadline,
      subtasks: (p.subtasks || []).map((s) => ({id: s.subtask_id, content: s.content, worker_type: s.assignee,
                                                 dependencies: s.dependencies || []}))}))
      .filter((p) => !this.decided.has(p.plan_version));
    const known = new Set([...(plan.subtasks || []).map((s) => s.subtask_id),
                           ...proposals.flatMap((p) => p.subtasks.map((s) => s.id))]);
    if ((plan.subtasks || []).length) {  // a plan that runs: what it does not have was dropped (a rejected one has none)
      for (const n of this.list()) if (n.status === "proposed" && !known.has(n.id)) this.nodes.delete(n.id);
    }
    for (const s of plan.subtasks || []) {
      const n = this.node(s.subtask_id);
      Object.assign(n, {content: s.content, worker: s.assignee || n.worker, deps: s.dependencies || [],
                        status: statusName(s.status).toLowerCase(), attempts: Number(s.attempts || 0),
                        replaces: s.replaces || n.replaces, result: s.result || n.result,
                        failure: s.failure_reason || n.failure, instance: s.worker_instance || n.instance});
    }
    this.proposals = proposals;
    for (const p of this.proposals) {
      for (const s of p.subtasks) {
        const n = this.node(s.id);
        Object.assign(n, {content: s.content, worker: s.worker_type, deps: s.dependencies, status: "proposed"});
        if (p.replaced_subtask_id) n.replaces = p.replaced_subtask_id;
      }
    }
  }
}
