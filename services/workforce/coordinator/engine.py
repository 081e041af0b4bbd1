"""Applies inbox messages to the plan, one compare-and-set write per message, then publishes the outbox the
transition queued in one pipeline.

The replica that applies a task's messages holds its plan and record in memory (owned.py) and writes them with
compare-and-set on the revision it holds, so the steady state reads nothing; a conflict (another replica applied
a message of the task) re-reads and applies again.

Crash-safety: a message is acked only after its transition is committed and its outbox published. A message
redelivered after a crash finds its key in `plan.applied` and publishes the stored outbox again; every outbox entry
has a Nats-Msg-Id, so the server drops what was already published. The outbox is replaced by the next transition,
which first publishes a stored outbox that may not be out yet (another replica's, or one left by a crash).
"""

import asyncio
import logging
import time

from ..core.channel import Channel
from ..core.channel.inflight import InFlight, TaskCancelled
from ..core.channel.registry import RegistryCache
from ..core.channel.state import ERASE_MARKER_TTL_S, CasConflict
from ..core.config import Settings
from ..core.ids import created_ms, valid_task_id
from ..core.llm.client import UsageBook, merge_usage
from ..core.progress import LateSignal
from ..core.task_lifecycle import release_quota, start_task, update_record
from ..v1 import channel_pb2, common_pb2
from . import approval, faults
from .assign import Assigner, AssignmentFailed
from . import dag
from .machine import TERMINAL, Effects, Machine, new_plan, planner_trace, terminal_event_id
from .metrics import DEAD_LETTERS, REPLANS, SUBTASKS, TASK_DURATION, TASKS_FINISHED
from .owned import Owned

log = logging.getLogger(__name__)
S = common_pb2
APPLIED_KEEP = 500
# Record statuses written at once: the final ones, and the one that waits for a person (who acts on the record;
# leaving it is written at once too).
URGENT_STATUSES = (*TERMINAL, S.TASK_STATUS_AWAITING_APPROVAL)


class UnknownTask(Exception):
    pass


class Coordinator:
    def __init__(self, channel: Channel, llm, settings: Settings):
        self.channel = channel
        self.settings = settings
        self.machine = Machine(settings)
        self.assigner = Assigner(llm, settings)
        self.registry = RegistryCache(channel)
        self.owned = Owned()
        # A cancel (wf.cancel.<task>) stops the task's assignment call. Only that: the coordinator publishes the
        # cancel itself when a task ends, and must not stop its own transition's publishing.
        self.inflight = InFlight()
        self._flushes: dict[str, asyncio.TimerHandle] = {}   # task id → its pending progress write
        self._background: set[asyncio.Task] = set()

    async def apply(self, task_id: str, key: str, message: channel_pb2.CoordinatorMessage,
                    first_delivery: bool = False) -> None:
        """Apply one inbox message (see apply_batch)."""
        await self.apply_batch(task_id, [(key, message)], first_delivery)

    async def apply_batch(self, task_id: str, messages: list[tuple[str, channel_pb2.CoordinatorMessage]],
                          first_delivery: bool = False) -> None:
        """Apply a task's inbox messages, in order, as one transition: one compare-and-set of the plan, the task
        record when what a client sees changed, then the outbox in one pipeline. A plan message comes alone (its
        assignment call is made before the compare-and-set loop)."""
        first = messages[0][1]
        plan, revision, published = await self._load(task_id, first if first_delivery else None)
        todo = [(key, message) for key, message in messages if key not in plan.applied]
        if not todo:  # redelivered after its transition was committed: publish what it queued
            await self._publish(plan)
            return
        pre = await self._prepare(task_id, plan, first) if first.WhichOneof("kind") == "plan" else None
        for _ in range(100):
            if not published and plan.outbox and self._maybe_unpublished(plan):
                await self._publish(plan)   # what an earlier transition (maybe another replica's) queued
            new = channel_pb2.PlanState()
            new.CopyFrom(plan)
            del new.outbox[:]
            effects = Effects()
            for key, message in todo:
                self._transition(new, key, message, pre, effects)
            written = await self._write(new, revision)
            if written is not None:
                self.owned.keep_plan(new, written, False)
                faults.after_commit(self.settings, first.WhichOneof("kind"))
                self._record(task_id, effects)
                await self._project(new)   # before the events: a client that saw one reads a record as new
                await self._publish(new)
                return
            self.owned.forget(task_id)   # another replica wrote the plan: read it and apply again
            plan, revision, published = await self._load(task_id)
            todo = [(key, message) for key, message in todo if key not in plan.applied]
            if not todo:
                await self._publish(plan)
                return
        raise CasConflict(task_id)

    async def _load(self, task_id: str, message: channel_pb2.CoordinatorMessage | None = None
                    ) -> tuple[channel_pb2.PlanState, int, bool]:
        """The plan as held here, else as stored, else a new one from the task record (revision 0). A task's first
        plan, on its first delivery, carries the record as submitted: its plan starts from that without a read
        (a plan stored meanwhile makes the create conflict, and the retry reads)."""
        held = self.owned.plan(task_id)
        if held is not None:
            return held
        seed = message.plan if message is not None and message.WhichOneof("kind") == "plan" else None
        if seed is not None and seed.HasField("task") and seed.task_revision and seed.plan_version == 0 \
                and not self.inflight.was_cancelled(task_id):
            self.owned.keep_record(seed.task, seed.task_revision)
            return new_plan(seed.task), 0, True
        plan, revision = await self.channel.get_plan(task_id)
        if plan is not None:
            return plan, revision, False
        held = await self._read_record(task_id)
        if held is None:
            raise UnknownTask(task_id)
        return new_plan(held[0]), 0, True

    async def _read_record(self, task_id: str) -> tuple[common_pb2.TaskRecord, int] | None:
        entry = await self.channel.tasks.get(task_id)
        if entry is None:
            return None
        held = (common_pb2.TaskRecord.FromString(entry.value), entry.revision)
        self.owned.keep_record(*held)
        return held

    async def _write(self, plan: channel_pb2.PlanState, revision: int) -> int | None:
        data = plan.SerializeToString()
        if revision == 0:
            return await self.channel.plans.create(plan.task_id, data)
        return await self.channel.plans.update(plan.task_id, data, revision)

    async def _prepare(self, task_id: str, plan: channel_pb2.PlanState, message) -> tuple:
        """The model's assignment for a new plan, computed once, before the compare-and-set loop:
        (assignments, usage, failure reason, the assignment call, the plan's own data for plan.assigned or None)."""
        usage = UsageBook()
        held = self.owned.record(task_id) or await self._read_record(task_id)
        if plan.status in TERMINAL or held is not None and held[0].status in TERMINAL:
            return None, usage, "", {}, None  # cancelled (or ended) meanwhile: no model call for a dead task
        ready = message.plan
        if plan.token_budget and _tokens(plan.usage, ready.usage) > plan.token_budget:
            return None, usage, "", {}, None  # planning spent the budget: the transition ends the task
        version = ready.plan_version
        announced = []   # [True] once the plan's own event is stored

        async def announce():
            await self._announce(task_id, ready)
            announced.append(True)

        # The plan's own event (plan.created) goes out only when the assignment call outlasts the progress delay;
        # otherwise plan.assigned carries the plan (one event less). A replacement, or a plan a person reviews,
        # is announced at once.
        at_once = bool(ready.replaced_subtask_id) or plan.review_plan
        signal = await LateSignal(0 if at_once else self.settings.progress_signal_delay_s, announce).start()
        try:
            assignments, messages, raw, detail = await self.inflight.run(task_id, self.assigner.assign(
                task_id, plan.question, list(ready.subtasks),
                await self.registry.workers_for(plan.question, bool(plan.files)),
                dag.done(plan), usage))
        except TaskCancelled:
            self.owned.forget_record(task_id)   # the redelivery reads the cancelled record
            await signal.settle()
            raise
        except AssignmentFailed as exc:
            await signal.now()   # what the planner wrote, then why it could not run
            await self.channel.emit(task_id, "assignment.failed", str(exc)[:500], data={"attempts": exc.attempts},
                                    msg_id=f"ev:{task_id}:assignfail:{version}")
            return None, usage, f"coordinator could not assign the subtasks: {exc}", {}, None
        except BaseException:
            await signal.settle()
            raise
        await signal.settle()   # a plan event being sent lands before plan.assigned
        log.info("assigned %d subtasks", len(assignments))
        # Recorded in the committed outbox (plan.assigned or approval.requested), so the event is the assignment
        # that was applied, even on redelivery.
        event = {"coordinator_messages": messages, "coordinator_output": raw, **detail,
                 "assignments": {sid: {"worker": w, "dependencies": deps} for sid, (w, deps) in assignments.items()}}
        return assignments, usage, "", event, None if announced else planner_trace(ready.trace_json)

    async def _announce(self, task_id: str, ready: channel_pb2.PlanReady) -> None:
        """The planner's plan as its event (plan.created / plan.replanned), from the message that is applied: the
        plan recorded is the plan run. Its id makes a redelivery's repeat a no-op."""
        replaced, count = ready.replaced_subtask_id, len(ready.subtasks)
        await self.channel.emit(
            task_id, "plan.replanned" if replaced else "plan.created",
            f"{replaced} → {_subtasks(count)}" if replaced else _subtasks(count), subtask_id=replaced,
            data=planner_trace(ready.trace_json), msg_id=f"ev:{task_id}:plan:{ready.plan_version}")

    def _transition(self, plan, key: str, message, pre, effects: Effects) -> None:
        """Apply the message to the plan in place (no I/O); the outbox gets what must be published."""
        kind = message.WhichOneof("kind")
        if kind == "plan":
            assignments, usage, failure, event, plan_data = pre
            usage.merge_into(plan.usage)
            _merge(plan.usage, message.plan.usage)
            if failure:
                self.machine.finish(plan, S.TASK_STATUS_FAILED, effects, reason=failure)
            elif assignments is not None:
                self.machine.on_plan(plan, message.plan, assignments, effects, event, plan_data)
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
            _merge(plan.usage, message.planner_failure.usage)
            self.machine.on_planner_failure(plan, message.planner_failure, effects)
        elif kind == "approval":
            approval.on_decision(self.machine, plan, message.approval, effects)
        elif kind == "deadlines":
            self.machine.on_deadlines(plan, message.deadlines.now, effects)
        self.machine.check_budget(plan, effects)
        self.machine.on_deadlines(plan, time.time(), effects)   # no transition moves a task on past its deadline
        plan.applied.append(key)
        del plan.applied[:-APPLIED_KEEP]
        plan.transitions += 1
        plan.outbox_at_ms = int(time.time() * 1000)

    def _maybe_unpublished(self, plan: channel_pb2.PlanState) -> bool:
        """Whether a stored outbox may not have been published yet. Its transition's message is acked only after
        the outbox is out, and redelivered (which re-publishes it) within the control ack wait otherwise; so an
        outbox older than the duplicate window was published, and publishing it again would duplicate it."""
        age_s = time.time() - plan.outbox_at_ms / 1000
        return age_s < max(self.settings.control_ack_wait_s * 3, self.settings.duplicate_window_s - 30)

    async def _publish(self, plan: channel_pb2.PlanState) -> None:
        """Publish the plan's outbox in one pipeline (every entry has a message id, so what was sent before is
        dropped by the server). The outbox is not cleared by a write of its own: the next transition replaces it."""
        task_id = plan.task_id
        entries = []
        for entry in plan.outbox:
            if entry.msg_id == terminal_event_id(task_id) and await self._ended_elsewhere(plan):
                continue  # the gateway ended it first (cancel) and said so
            entries.append((entry.subject, entry.payload, entry.msg_id))
        ending = []
        if plan.status in TERMINAL:   # sent with the outbox: a redelivery after a crash does it again
            ending.append(self.channel.active.erase(task_id))
            held = self.owned.record(task_id)
            if held is None or held[0].quota_reserved:   # not held here: release what there may be
                ending.append(release_quota(self.channel, task_id))
        await asyncio.gather(self.channel.publish_pipelined(entries, task_id), *ending)
        self.owned.published(task_id)

    async def _ended_elsewhere(self, plan) -> bool:
        held = self.owned.record(plan.task_id)
        record = held[0] if held else await self.channel.get_task(plan.task_id)
        if record is not None and record.status in TERMINAL and record.status != plan.status:
            return True
        if held and held[0].status not in TERMINAL:  # the copy may be stale: the gateway may have just cancelled
            record = await self.channel.get_task(plan.task_id)
            return record is not None and record.status in TERMINAL and record.status != plan.status
        return False

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

        if await update_record(self.channel, task_id, failed):
            await self.channel.emit(task_id, "task.failed", reason[:500], status=S.TASK_STATUS_FAILED,
                                    msg_id=terminal_event_id(task_id))
        await self.channel.active.erase(task_id)

    async def sweep_task(self, task_id: str, now: float) -> None:
        """Apply deadlines and approval timeouts to one active task (the sweeper leader calls it). A plan held here
        is not read again: a stale copy at worst asks for a deadline check that the transition finds moot (it
        re-reads on the compare-and-set conflict)."""
        held = self.owned.plan(task_id)
        plan = held[0] if held is not None else (await self.channel.get_plan(task_id))[0]
        if plan is None:
            record = await self.channel.get_task(task_id)
            grace = self.settings.submit_grace_s
            if record is None and valid_task_id(task_id) and now * 1000 - created_ms(task_id) < grace * 1000:
                return  # its submit is still being written
            if record is None or record.status in TERMINAL:
                await self.channel.active.erase(task_id)
                return
            if record.status == S.TASK_STATUS_QUEUED and now - record.created_at.seconds > grace:
                await start_task(self.channel, record)  # a submit cut short before the planner was asked
            if record.HasField("deadline") and record.deadline.seconds and now > record.deadline.seconds:
                await self.apply(task_id, f"deadline:{task_id}", channel_pb2.CoordinatorMessage(
                    task_id=task_id, planner_failure=channel_pb2.PlannerFailure(
                        stage="decompose", reason="task deadline exceeded before a plan was made")))
            return
        if plan.status in TERMINAL:
            # Its last outbox was published before its message's ack, and then its entry erased; the expiring
            # marker of a task that just ended is still listed (erasing it again would only renew the marker).
            if time.time() - plan.outbox_at_ms / 1000 > ERASE_MARKER_TTL_S + 1:
                await self.channel.active.erase(task_id)
            return
        if plan.proposals:
            await approval.sweep(self, task_id, plan, now)
        probe = channel_pb2.PlanState()
        probe.CopyFrom(plan)
        self.machine.on_deadlines(probe, now, Effects())
        if probe.SerializeToString() != plan.SerializeToString():
            # A deadline is a message like any other: one key per sweep round and task, applied once.
            await self.apply(task_id, f"sweep:{task_id}:{int(now)}", channel_pb2.CoordinatorMessage(
                task_id=task_id, deadlines=channel_pb2.DeadlineCheck(now=now)))

    async def _project(self, plan: channel_pb2.PlanState) -> None:
        """Write the task record when what a client sees of it changed (compare-and-set on the revision held here;
        the gateway writes the record too, on cancel). A final status, or one waiting for a person, is written at
        once; progress (other statuses on
        the way, subtasks done, usage) at most once per record_progress_interval_s, the latest of it by a timer,
        so a quick task's record is written twice in all (created, finished) while a slow one still shows
        progress. The events are never held back."""
        for _ in range(50):
            held = self.owned.record(plan.task_id) or await self._read_record(plan.task_id)
            if held is None:
                return
            record, revision = held
            if record.status in TERMINAL:
                return   # terminal records are never changed again
            new = common_pb2.TaskRecord()
            new.CopyFrom(record)
            if not _projected(new, plan):
                return
            wait = self._progress_wait(record, plan)
            if wait > 0:
                self._flush_later(plan.task_id, wait)
                return
            new.updated_at.GetCurrentTime()
            written = await self.channel.tasks.update(plan.task_id, new.SerializeToString(), revision)
            if written is not None:
                self.owned.keep_record(new, written)
                return
            self.owned.forget_record(plan.task_id)
        raise CasConflict(plan.task_id)

    def _progress_wait(self, record: common_pb2.TaskRecord, plan: channel_pb2.PlanState) -> float:
        """Seconds until the record may take a progress write; 0 = now."""
        interval = self.settings.record_progress_interval_s
        if interval <= 0 or record.status != plan.status and (
                plan.status in URGENT_STATUSES or record.status == S.TASK_STATUS_AWAITING_APPROVAL):
            return 0.0
        written_at = record.updated_at.ToMilliseconds() or record.created_at.ToMilliseconds()
        return max(0.0, written_at / 1000 + interval - time.time())

    def _flush_later(self, task_id: str, wait: float) -> None:
        if task_id in self._flushes:
            return  # one is set: it projects the plan as it is then
        self._flushes[task_id] = asyncio.get_running_loop().call_later(
            wait, lambda: self._background.add(asyncio.create_task(self._flush(task_id))))

    async def _flush(self, task_id: str) -> None:
        self._flushes.pop(task_id, None)
        held = self.owned.plan(task_id)
        if held is None:
            return  # not held here any more: whoever applies its next message writes the record
        try:
            await self._project(held[0])
        except Exception:
            log.warning("could not write a task's progress", exc_info=True, extra={"task_id": task_id})
        finally:
            self._background.discard(asyncio.current_task())

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


def _projected(record: common_pb2.TaskRecord, plan: channel_pb2.PlanState) -> bool:
    """Copy the plan's client-visible fields onto the record; False when nothing changed."""
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


def _tokens(*usages) -> int:
    return sum(u.prompt_tokens + u.completion_tokens for usage in usages for u in usage.values())


def _subtasks(count: int) -> str:
    return f"{count} subtask" + ("" if count == 1 else "s")
