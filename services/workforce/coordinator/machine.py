"""The coordinator's state transitions: each applies one inbox message to the plan and queues what must be
published (work items, planner requests, events) in the plan's outbox. No I/O here."""

import json
import time
from dataclasses import dataclass, field


from ..core.config import Settings
from ..core.ids import attempt_id
from ..core.channel import layout
from ..core.channel.events import encode_data
from ..v1 import channel_pb2, common_pb2
from . import approval, dag

S = common_pb2
TERMINAL = (S.TASK_STATUS_SUCCEEDED, S.TASK_STATUS_FAILED, S.TASK_STATUS_CANCELLED)
RESULT_KEEP_CHARS = 16_000
TERMINAL_EVENT = {S.TASK_STATUS_SUCCEEDED: "task.succeeded", S.TASK_STATUS_FAILED: "task.failed",
                  S.TASK_STATUS_CANCELLED: "task.cancelled"}


REASON_CHARS = 400


def short_reason(reason: str) -> str:
    """A failure reason as one short paragraph."""
    text = " ".join((reason or "").split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def terminal_event_id(task_id: str) -> str:
    """One id for every terminal event of a task, so the stream keeps exactly one of them."""
    return f"ev:{task_id}:terminal"


@dataclass
class Effects:
    """Things to record once the transition is committed (metrics)."""

    subtask_results: list[tuple[str, str]] = field(default_factory=list)   # (worker type, status)
    replans: int = 0
    dead_letters: list[str] = field(default_factory=list)
    finished: int = 0                                                       # terminal status reached


def _decoded(text: str, what: str) -> dict:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"note": f"the {what} was not readable JSON"}


def planner_trace(trace_json: str) -> dict:
    """The planner call a plan or answer carries (messages, output, attempts), as its event's data."""
    return _decoded(trace_json, "planner's trace")


def _trajectory(result: channel_pb2.SubtaskResult) -> dict:
    """The worker's message history and tool trace, carried by its result into the subtask's outcome event."""
    return {"trajectory": _decoded(result.trajectory_json, "worker's trajectory")} if result.trajectory_json else {}


def _files(result: channel_pb2.SubtaskResult) -> dict:
    """The files the worker produced, as the API shows them (GET …/subtasks/<id>/files/<name>; the store keys stay
    in the plan, Subtask.files)."""
    if not result.files:
        return {}
    return {"files": [{"name": f.name, "size": f.size, "media_type": f.media_type, "sha256": f.sha256}
                      for f in result.files]}


class Machine:
    def __init__(self, settings: Settings):
        self.settings = settings

    # ---- outbox helpers ----

    def _out(self, plan, subject: str, msg_id: str, message) -> None:
        plan.outbox.add(subject=subject, msg_id=msg_id, payload=message.SerializeToString())

    def event(self, plan, type_: str, message: str = "", *, subtask_id: str = "", status: int = 0, msg_id: str = "",
              data: dict | None = None, dispatch: bool = False) -> None:
        """Queue an event. With dispatch=True the subtasks that became ready are dispatched right behind it and
        listed in its data (`dispatched`), so no event of their own is needed and none precedes its cause."""
        event = channel_pb2.TaskEvent(task_id=plan.task_id, type=type_, source=self.settings.instance_id,
                                      subtask_id=subtask_id, message=message, status=status)
        event.time.GetCurrentTime()
        items = self._dispatch_ready(plan) if dispatch else []
        payload = dict(data or {})
        if items:
            payload["dispatched"] = [{"subtask_id": s.subtask_id, "worker_type": s.assignee,
                                      "attempt_id": s.attempt_id} for s, _ in items]
        if payload:
            event.data_json = encode_data(payload)
        self._out(plan, layout.events_subject(plan.task_id), msg_id or f"ev:{plan.task_id}:{type_}:{subtask_id}:"
                  f"{plan.transitions}:{len(plan.outbox)}", event)
        for s, item in items:  # after the event, so no worker's subtask.started can precede it
            self._out(plan, layout.work_subject(s.assignee), s.attempt_id, item)

    def finish(self, plan, status: int, effects: Effects, reason: str = "", answer: str = "",
               data: dict | None = None) -> None:
        if plan.status in TERMINAL:
            return
        plan.status = status
        reason = short_reason(reason)  # the whole story stays in the task's events
        plan.failure_reason = reason
        plan.answer = answer
        for s in plan.subtasks:
            if s.status in (S.SUBTASK_STATUS_PENDING, S.SUBTASK_STATUS_DISPATCHED):
                s.status = S.SUBTASK_STATUS_CANCELLED
        if status != S.TASK_STATUS_SUCCEEDED:
            self._out(plan, layout.cancel_subject(plan.task_id), "", channel_pb2.CancelTask(reason=reason))
        self.event(plan, TERMINAL_EVENT[status], answer or reason, status=status, data=data,
                   msg_id=terminal_event_id(plan.task_id))
        effects.finished = status

    # ---- dispatching ----

    def _dispatch_ready(self, plan) -> list:
        """Mark every ready subtask dispatched: [(subtask, its work item)]."""
        if plan.status in TERMINAL:
            return []
        now = time.time()
        items = []
        for s in dag.ready(plan):
            s.attempts += 1
            s.status = S.SUBTASK_STATUS_DISPATCHED
            s.attempt_id = attempt_id(plan.task_id, s.subtask_id, s.attempts)
            s.dispatched_at.FromSeconds(int(now))
            item = channel_pb2.WorkItem(
                task_id=plan.task_id, subtask_id=s.subtask_id, attempt_id=s.attempt_id, worker_type=s.assignee,
                overall_task=plan.question, subtask=s.content, files=dag.files_for(plan, s),
                dependencies=dag.dependency_results(plan, s, self.settings.dependency_result_chars),
                metadata=dict(plan.metadata),
            )
            deadline = now + self.settings.subtask_timeout_s
            if plan.HasField("deadline"):
                deadline = min(deadline, plan.deadline.seconds)
            item.deadline.FromSeconds(int(deadline))
            items.append((s, item))
        return items

    def synthesize_when_done(self, plan) -> None:
        """Ask for the answer once every subtask is done."""
        if plan.status == S.TASK_STATUS_RUNNING and dag.all_done(plan) and not plan.synthesis_requested:
            plan.synthesis_requested = True
            plan.status = S.TASK_STATUS_SYNTHESIZING
            request = channel_pb2.PlannerRequest(task_id=plan.task_id, synthesize=channel_pb2.SynthesizeRequest(
                question=plan.question, answer_format=plan.answer_format, subtasks=dag.done(plan)),
                metadata=dict(plan.metadata))
            self._out(plan, layout.PLANNER_SUBJECT, f"synth:{plan.task_id}", request)

    # ---- transitions ----

    def on_plan(self, plan, ready_msg: channel_pb2.PlanReady, assignments: dict, effects: Effects,
                assignment: dict | None = None, plan_data: dict | None = None) -> None:
        if plan.status in TERMINAL:
            return
        new = []
        for s in ready_msg.subtasks:
            assignee, deps = assignments[s.subtask_id]
            sub = channel_pb2.Subtask(subtask_id=s.subtask_id, content=s.content, dependencies=deps,
                                      assignee=assignee, status=S.SUBTASK_STATUS_PENDING)
            new.append(sub)
        if approval.wanted(plan, ready_msg):  # held for a person's decision (approval.on_decision applies it)
            approval.propose(self, plan, ready_msg, new, assignment)
            return
        self.apply_plan(plan, new, ready_msg.replaced_subtask_id, ready_msg.plan_version, effects, assignment,
                        plan_data)

    def apply_plan(self, plan, new: list, replaced_subtask_id: str, plan_version: int, effects: Effects,
                   assignment: dict | None = None, plan_data: dict | None = None) -> None:
        """Run a plan (or a replacement): `assignment` is how the model assigned it, kept in plan.assigned, with
        the planner's call and subtasks (`plan_data`) when no plan.created told them."""
        if replaced_subtask_id:
            if dag.by_id(plan).get(replaced_subtask_id) is None:
                return
            dag.replace(plan, replaced_subtask_id, new)
        else:
            if plan.subtasks:  # the first plan was applied already
                return
            plan.subtasks.extend(new)
        plan.status = S.TASK_STATUS_RUNNING
        self.event(plan, "plan.assigned", f"{len(new)} subtask" + ("" if len(new) == 1 else "s"), data={
            **(plan_data or {}), "plan_version": plan_version, **({"assignment": assignment} if assignment else {}),
            "assignments": [{"task_id": s.subtask_id, "assignee_id": s.assignee, "dependencies": list(s.dependencies)}
                            for s in new]}, status=S.TASK_STATUS_RUNNING, dispatch=True)
        self.synthesize_when_done(plan)

    def on_result(self, plan, result: channel_pb2.SubtaskResult, effects: Effects, reason_prefix: str = "") -> None:
        sub = dag.by_id(plan).get(result.subtask_id)
        if (plan.status in TERMINAL or sub is None or sub.status != S.SUBTASK_STATUS_DISPATCHED
                or sub.attempt_id != result.attempt_id):
            return  # a duplicate or stale result: exactly one result per attempt is recorded
        sub.worker_instance = result.worker_instance
        sub.finished_at.GetCurrentTime()
        effects.subtask_results.append((sub.assignee, "failed" if result.failed else "done"))
        if not result.failed:
            sub.status = S.SUBTASK_STATUS_DONE
            sub.result = result.content[:RESULT_KEEP_CHARS]
            del sub.files[:]
            sub.files.extend(result.files)
            self.event(plan, "subtask.succeeded", result.content[:RESULT_KEEP_CHARS], subtask_id=sub.subtask_id,
                       data={"worker_type": sub.assignee, "attempt_id": sub.attempt_id,
                             "tool_calls": result.tool_calls, "worker_instance": result.worker_instance,
                             **_files(result), **_trajectory(result)}, dispatch=True)
            self.synthesize_when_done(plan)
            return
        reason = reason_prefix + result.content
        sub.status = S.SUBTASK_STATUS_FAILED
        sub.failures += 1
        sub.failure_reason = reason[:RESULT_KEEP_CHARS]
        self.event(plan, "subtask.failed", reason[:RESULT_KEEP_CHARS], subtask_id=sub.subtask_id,
                   data={"worker_type": sub.assignee, "attempt_id": sub.attempt_id, "failures": sub.failures,
                         **_trajectory(result)})
        threshold = self.settings.replan_threshold
        if sub.failures >= threshold:
            # The cause first: a list of tasks shows only the start of each reason.
            counted = " with the subtasks it replaces" if sub.replaces else ""
            self.finish(plan, S.TASK_STATUS_FAILED, effects,
                        reason=f"subtask {sub.subtask_id} failed: {reason} ({sub.failures} failures{counted}; "
                               f"replan threshold {threshold})")
            return
        plan.plan_version += 1
        plan.replans += 1
        effects.replans += 1
        request = channel_pb2.PlannerRequest(task_id=plan.task_id, replan=channel_pb2.ReplanRequest(
            question=plan.question, subtasks=list(plan.subtasks), failed_subtask_id=sub.subtask_id,
            failure_reason=reason, plan_version=plan.plan_version, has_files=bool(plan.files)),
            metadata=dict(plan.metadata))
        self._out(plan, layout.PLANNER_SUBJECT, f"replan:{plan.task_id}:{plan.plan_version}", request)
        self.event(plan, "replan.requested", reason[:2000], subtask_id=sub.subtask_id,
                   data={"plan_version": plan.plan_version, "failures": sub.failures})

    def on_dead_letter(self, plan, letter: channel_pb2.DeadLetter, effects: Effects) -> None:
        sub = dag.by_id(plan).get(letter.subtask_id)
        if sub is not None and sub.attempt_id == letter.attempt_id and sub.status == S.SUBTASK_STATUS_DISPATCHED:
            effects.dead_letters.append(sub.assignee)
        result = channel_pb2.SubtaskResult(
            task_id=plan.task_id, subtask_id=letter.subtask_id, attempt_id=letter.attempt_id, failed=True,
            content=f"no result after {letter.deliveries} deliveries (the worker crashed or timed out)")
        self.on_result(plan, result, effects, reason_prefix="dead letter: ")

    def on_final(self, plan, final: channel_pb2.FinalAnswer, effects: Effects) -> None:
        if plan.status == S.TASK_STATUS_SYNTHESIZING:   # task.succeeded carries the answer and its planner call
            self.finish(plan, S.TASK_STATUS_SUCCEEDED, effects, answer=final.answer,
                        data=planner_trace(final.trace_json))

    def on_cancel(self, plan, cancel: channel_pb2.CancelTask, effects: Effects) -> None:
        self.finish(plan, S.TASK_STATUS_CANCELLED, effects, reason=cancel.reason or "cancelled")

    def check_budget(self, plan, effects: Effects) -> None:
        """End the task when its tokens (every LLM call merged so far) pass its budget."""
        if not plan.token_budget or plan.status in TERMINAL:
            return
        used = sum(u.prompt_tokens + u.completion_tokens for u in plan.usage.values())
        if used > plan.token_budget:
            self.finish(plan, S.TASK_STATUS_FAILED, effects,
                        reason=f"token budget exceeded: {used} tokens used, the budget is {plan.token_budget}")

    def on_planner_failure(self, plan, failure: channel_pb2.PlannerFailure, effects: Effects) -> None:
        reason = failure.reason if failure.stage == "coordinator" else \
            f"planner failed to {failure.stage}: {failure.reason}"
        self.finish(plan, S.TASK_STATUS_FAILED, effects, reason=reason)

    def on_deadlines(self, plan, now: float, effects: Effects) -> None:
        if plan.status in TERMINAL:
            return
        if plan.HasField("deadline") and plan.deadline.seconds and now > plan.deadline.seconds:
            self.finish(plan, S.TASK_STATUS_FAILED, effects, reason="task deadline exceeded")
            return
        grace = max(5.0, self.settings.ack_wait_s)
        for s in dag.dispatched(plan):
            if now > s.dispatched_at.seconds + self.settings.subtask_timeout_s + grace:
                result = channel_pb2.SubtaskResult(
                    task_id=plan.task_id, subtask_id=s.subtask_id, attempt_id=s.attempt_id, failed=True,
                    content=f"subtask deadline exceeded: no result within {self.settings.subtask_timeout_s} s")
                self.on_result(plan, result, effects)


def new_plan(record: common_pb2.TaskRecord) -> channel_pb2.PlanState:
    plan = channel_pb2.PlanState(task_id=record.task_id, question=record.question,
                                 answer_format=record.answer_format, files=list(record.files),
                                 status=S.TASK_STATUS_PLANNING, review_plan=record.review_plan,
                                 review_replans=record.review_replans, token_budget=record.token_budget)
    plan.metadata.update(record.metadata)   # the workers' copy (they read no task record)
    if record.HasField("deadline"):
        plan.deadline.CopyFrom(record.deadline)
    return plan


