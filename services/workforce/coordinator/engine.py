"""Applies inbox messages to the plan with compare-and-set, then publishes the plan's outbox.

Crash-safety: a message is acked only after its transition is committed and its outbox published. A message
redelivered after a crash finds its key in `plan.applied` and only re-publishes the outbox; every outbox entry has
a Nats-Msg-Id, so the server drops what was already published.
"""

import logging
import time

from ..core.channel import Channel
from ..core.channel.registry import RegistryCache
from ..core.channel.state import CasConflict
from ..core.config import Settings
from ..core.ids import created_ms, valid_task_id
from ..core.llm.client import UsageBook, merge_usage
from ..core.metrics import DEAD_LETTERS, REPLANS, SUBTASKS, TASK_DURATION, TASKS_FINISHED
from ..v1 import channel_pb2, common_pb2
from . import approval
from .assign import Assigner, AssignmentFailed
from .machine import TERMINAL, Effects, Machine, new_plan, terminal_event_id

log = logging.getLogger(__name__)
S = common_pb2
APPLIED_KEEP = 500


class UnknownTask(Exception):
    pass


class Coordinator:
    def __init__(self, channel: Channel, llm, settings: Settings):
        self.channel = channel
        self.settings = settings
        self.machine = Machine(settings)
        self.assigner = Assigner(llm, settings)
        self.registry = RegistryCache(channel)

    async def apply(self, task_id: str, key: str, message: channel_pb2.CoordinatorMessage) -> None:
        kind = message.WhichOneof("kind")
        pre = await self._prepare(task_id, key, message) if kind == "plan" else None
        effects = await self._commit(task_id, key, message, pre)
        if effects is not None:
            self._record(task_id, effects)
        await self.flush(task_id)

    async def _prepare(self, task_id: str, key: str, message) -> tuple[dict | None, UsageBook, str, dict]:
        """The model's assignment for a new plan, computed before the compare-and-set loop."""
        plan, _ = await self.channel.get_plan(task_id)
        usage = UsageBook()
        if plan is not None and (key in plan.applied or plan.status in TERMINAL):
            return None, usage, "", {}
        record = await self.channel.get_task(task_id)
        if record is None and plan is None:
            raise UnknownTask(task_id)
        if record is not None and record.status in TERMINAL:
            return None, usage, "", {}  # cancelled (or ended) meanwhile: no model call for a dead task
        if plan is None:
            plan = new_plan(record)
        from . import dag

        version = message.plan.plan_version
        try:
            assignments, messages, raw, detail = await self.assigner.assign(
                task_id, plan.question, list(message.plan.subtasks), await self.registry.workers(), dag.done(plan),
                usage)
        except AssignmentFailed as exc:
            await self.channel.emit(task_id, "assignment.failed", str(exc)[:500], data={"attempts": exc.attempts},
                                    msg_id=f"ev:{task_id}:assignfail:{version}")
            return None, usage, f"coordinator could not assign the subtasks: {exc}", {}
        log.info("assigned %d subtasks", len(assignments))
        # Recorded in the committed outbox, so the event is the assignment that was applied, even on redelivery.
        event = {"coordinator_messages": messages, "coordinator_output": raw, **detail,
                 "assignments": {sid: {"worker": w, "dependencies": deps} for sid, (w, deps) in assignments.items()}}
        return assignments, usage, "", event

    async def _commit(self, task_id, key, message, pre) -> Effects | None:
        kind = message.WhichOneof("kind")
        for _ in range(100):
            plan, revision = await self.channel.get_plan(task_id)
            if plan is None:
                record = await self.channel.get_task(task_id)
                if record is None:
                    raise UnknownTask(task_id)
                plan = new_plan(record)
            if key in plan.applied:
                return None
            effects = Effects()
            if kind == "plan":
                assignments, usage, failure, event = pre
                usage.merge_into(plan.usage)
                _merge(plan.usage, message.plan.usage)
                if failure:
                    self.machine.finish(plan, S.TASK_STATUS_FAILED, effects, reason=failure)
                elif assignments is not None:
                    version = message.plan.plan_version
                    self.machine.event(plan, "assignment.created", f"{len(assignments)} subtasks", data=event,
                                       msg_id=f"ev:{task_id}:assign:{version}")
                    self.machine.on_plan(plan, message.plan, assignments, effects)
            elif kind == "result":
                _merge(plan.usage, message.result.usage)
                self.machine.on_result(plan, message.result, effects)
            elif kind == "final_answer":
                _merge(plan.usage, message.final_answer.usage)
                self.machine.on_final(plan, message.final_answer, effects)
            elif kind == "cancel":
                self.machine.on_cancel(plan, message.cancel, effects)
            elif kind == "dead_letter":
                self.machine.on_dead_letter(plan, message.dead_letter, effects)
            elif kind == "planner_failure":
                self.machine.on_planner_failure(plan, message.planner_failure, effects)
            elif kind == "approval":
                approval.on_decision(self.machine, plan, message.approval, effects)
            elif kind == "started":
                pass
            self.machine.check_budget(plan, effects)
            plan.applied.append(key)
            del plan.applied[:-APPLIED_KEEP]
            plan.transitions += 1
            data = plan.SerializeToString()
            if revision == 0:
                written = await self.channel.plans.create(task_id, data)
                if written is not None:
                    await self.channel.active.put(task_id, b"1")
            else:
                written = await self.channel.plans.update(task_id, data, revision)
            if written is not None:
                return effects
        raise CasConflict(task_id)

    async def fail_task(self, task_id: str, reason: str) -> None:
        """End a task whose messages cannot be applied: through the machine when its plan still takes a
        transition, otherwise directly on the task record."""
        try:
            await self.apply(task_id, f"giveup:{task_id}", channel_pb2.CoordinatorMessage(
                task_id=task_id, planner_failure=channel_pb2.PlannerFailure(stage="coordinator", reason=reason)))
            return
        except Exception:
            log.exception("could not fail the task through its plan; failing the record directly")

        def failed(record):
            if record.status in TERMINAL:
                return False
            record.status = S.TASK_STATUS_FAILED
            record.failure_reason = reason[:1000]

        if await self.channel.update_task(task_id, failed):
            await self.channel.emit(task_id, "task.failed", reason[:500], status=S.TASK_STATUS_FAILED,
                                    msg_id=terminal_event_id(task_id))
        await self.channel.active.delete(task_id)

    async def sweep_task(self, task_id: str, now: float) -> None:
        """Apply deadlines to one active task (called by the sweeper on every replica)."""
        plan, _ = await self.channel.get_plan(task_id)
        if plan is None:
            record = await self.channel.get_task(task_id)
            grace = self.settings.submit_grace_s
            if record is None and valid_task_id(task_id) and now * 1000 - created_ms(task_id) < grace * 1000:
                return  # its submit is still being written
            if record is None or record.status in TERMINAL:
                await self.channel.active.delete(task_id)
                return
            if record.status == S.TASK_STATUS_QUEUED and now - record.created_at.seconds > grace:
                await self.channel.start_task(record)  # a submit cut short before the planner was asked
            if record.HasField("deadline") and record.deadline.seconds and now > record.deadline.seconds:
                await self.apply(task_id, f"deadline:{task_id}", channel_pb2.CoordinatorMessage(
                    task_id=task_id, planner_failure=channel_pb2.PlannerFailure(
                        stage="decompose", reason="task deadline exceeded before a plan was made")))
            return
        if plan.status in TERMINAL:
            await self.flush(task_id)
            return
        if plan.proposals:
            await approval.sweep(self, task_id, plan, now)
        probe = channel_pb2.PlanState()
        probe.CopyFrom(plan)
        self.machine.on_deadlines(probe, now, Effects())
        if probe.SerializeToString() != plan.SerializeToString():
            await self._sweep_commit(task_id, now)

    async def _sweep_commit(self, task_id: str, now: float) -> None:
        for _ in range(100):
            plan, revision = await self.channel.get_plan(task_id)
            effects = Effects()
            self.machine.on_deadlines(plan, now, effects)
            plan.transitions += 1
            if await self.channel.plans.update(task_id, plan.SerializeToString(), revision) is not None:
                self._record(task_id, effects)
                await self.flush(task_id)
                return

    async def flush(self, task_id: str) -> None:
        """Project the plan onto the task record, then publish and clear the outbox."""
        plan, _ = await self.channel.get_plan(task_id)
        if plan is None:
            return
        record = await self._project(plan)
        if not plan.outbox:
            return
        published = set()
        for entry in plan.outbox:
            skip = (entry.msg_id == terminal_event_id(task_id) and record is not None
                    and record.status != plan.status)  # the gateway ended it first (cancel) and said so
            if not skip:
                await self.channel.publish_raw(entry.subject, entry.payload, entry.msg_id, task_id)
            published.add((entry.subject, entry.msg_id))

        def clear(raw: bytes):
            state = channel_pb2.PlanState.FromString(raw)
            keep = [e for e in state.outbox if (e.subject, e.msg_id) not in published]
            if len(keep) == len(state.outbox):
                return None
            del state.outbox[:]
            state.outbox.extend(keep)
            return state.SerializeToString()

        await self.channel.plans.update_with(task_id, clear)
        if plan.status in TERMINAL:
            await self.channel.active.delete(task_id)

    async def _project(self, plan: channel_pb2.PlanState) -> common_pb2.TaskRecord | None:
        def change(record: common_pb2.TaskRecord):
            before = record.SerializeToString()
            if plan.status not in (S.TASK_STATUS_UNSPECIFIED, S.TASK_STATUS_PLANNING) or \
                    record.status == S.TASK_STATUS_QUEUED and plan.status == S.TASK_STATUS_PLANNING:
                record.status = plan.status
            record.answer = plan.answer
            record.failure_reason = plan.failure_reason
            record.replans = plan.replans
            live = [s for s in plan.subtasks if s.status != S.SUBTASK_STATUS_REPLACED]
            record.subtasks_total = len(live)
            record.subtasks_done = sum(1 for s in live if s.status == S.SUBTASK_STATUS_DONE)
            record.usage.clear()
            for role, usage in plan.usage.items():
                record.usage[role].CopyFrom(usage)
            return record.SerializeToString() != before

        updated = await self.channel.update_task(plan.task_id, change)
        return updated or await self.channel.get_task(plan.task_id)

    def _record(self, task_id: str, effects: Effects) -> None:
        for worker_type, status in effects.subtask_results:
            SUBTASKS.labels(worker_type, status).inc()
        if effects.replans:
            REPLANS.inc(effects.replans)
        for worker_type in effects.dead_letters:
            DEAD_LETTERS.labels(worker_type).inc()
        if effects.finished:
            status = common_pb2.TaskStatus.Name(effects.finished).removeprefix("TASK_STATUS_").lower()
            TASKS_FINISHED.labels(status).inc()
            self._observe_duration(task_id, status)

    def _observe_duration(self, task_id: str, status: str) -> None:
        if valid_task_id(task_id):
            TASK_DURATION.labels(status).observe(max(0.0, time.time() - created_ms(task_id) / 1000))


def _merge(target, usage_map) -> None:
    for role, usage in usage_map.items():
        merge_usage(target, role, usage)
