"""Results of one task that queue behind a running transition of that task are applied together: one plan write
and one outbox for all of them, each result recorded once, each message acknowledged after that transition; when
that transition fails, every one of them fails (and is redelivered), none is acked as done (real NATS, the real
coordinator, the scripted LLM for its assignment call)."""

import asyncio

import pytest

from workforce.coordinator.consumers import CoordinatorConsumers, Interrupted
from workforce.coordinator.engine import Coordinator
from workforce.core.channel import layout
from workforce.core.channel.consumer import Poison
from workforce.core.channel.events import event_data
from workforce.core.config import Settings
from workforce.core.llm.client import ChatClient
from workforce.v1 import channel_pb2, common_pb2


pytestmark = pytest.mark.usefixtures("closes_llm_clients")


async def _coordinator(channel, scripted) -> CoordinatorConsumers:
    settings = Settings(nats_url=channel.settings.nats_url, llm_base_url=scripted.base_url, llm_max_retries=0,
                        instance_id="c-batch", record_progress_interval_s=0)
    info = common_pb2.WorkerInfo(worker_type="echo", instance_id="i1", description="echo")
    info.heartbeat_at.GetCurrentTime()
    await channel.workers.put("echo.i1", info.SerializeToString())
    return CoordinatorConsumers(Coordinator(channel, ChatClient(settings), settings))


async def _results(channel, task_id: str, plan: channel_pb2.PlanState, durable: str) -> list:
    """The three results as the coordinator's consumer receives them (real messages with their metadata)."""
    sub = await channel.js.pull_subscribe(f"{layout.COORDINATOR_SUBJECT}", durable=durable,
                                          stream=layout.CONTROL_STREAM)
    for s in plan.subtasks:
        result = channel_pb2.SubtaskResult(task_id=task_id, subtask_id=s.subtask_id, attempt_id=s.attempt_id,
                                           content=f"done: {s.content}", worker_type="echo")
        await channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, result=result),
                                     msg_id=f"result:{s.attempt_id}")
    msgs = []
    while len(msgs) < 3:
        msgs += [m for m in await sub.fetch(10, timeout=2)
                 if channel_pb2.CoordinatorMessage.FromString(m.data).task_id == task_id]
    return msgs


async def _planned(channel, consumers, task_id: str) -> channel_pb2.PlanState:
    record = common_pb2.TaskRecord(task_id=task_id, question="q", status=common_pb2.TASK_STATUS_QUEUED)
    await channel.tasks.put(task_id, record.SerializeToString())
    ready = channel_pb2.PlanReady(subtasks=[channel_pb2.Subtask(subtask_id=str(i), content=f"part {i}")
                                            for i in (1, 2, 3)])
    await consumers.coordinator.apply(task_id, f"plan:{task_id}:0",
                                      channel_pb2.CoordinatorMessage(task_id=task_id, plan=ready))
    plan, _ = await channel.get_plan(task_id)
    assert [s.status for s in plan.subtasks] == [common_pb2.SUBTASK_STATUS_DISPATCHED] * 3
    return plan


async def _plan_writes(channel, task_id: str) -> int:
    return len(await channel.plans.kv.history(task_id))


async def test_results_queued_behind_a_transition_are_applied_as_one(channel, scripted):
    consumers = await _coordinator(channel, scripted)
    task_id = "t-batch-ok"
    plan = await _planned(channel, consumers, task_id)
    before = await _plan_writes(channel, task_id)
    msgs = await _results(channel, task_id, plan, "itest-batch-ok")

    lock = consumers._lock(task_id)
    await lock.acquire()   # a transition of the task is running: the results queue behind it
    handlers = [asyncio.create_task(consumers.handle(m)) for m in msgs]
    await asyncio.sleep(0.2)
    assert not any(h.done() for h in handlers)
    lock.release()
    await asyncio.gather(*handlers)   # every handler returns: each message is then acked by its consumer loop

    after, _ = await channel.get_plan(task_id)
    assert await _plan_writes(channel, task_id) == before + 1   # one write for three results
    assert [s.status for s in after.subtasks] == [common_pb2.SUBTASK_STATUS_DONE] * 3
    assert {f"result:{s.attempt_id}" for s in plan.subtasks} <= set(after.applied)
    assert after.synthesis_requested and after.status == common_pb2.TASK_STATUS_SYNTHESIZING
    succeeded = [channel_pb2.TaskEvent.FromString(e.payload) for e in after.outbox
                 if e.subject == layout.events_subject(task_id)]
    assert sorted(e.subtask_id for e in succeeded if e.type == "subtask.succeeded") == ["1", "2", "3"]
    assert all(event_data(e)["attempt_id"] for e in succeeded)
    synth = [e for e in after.outbox if e.subject == layout.PLANNER_SUBJECT]
    assert len(synth) == 1   # one synthesis request, in the same outbox

    # Delivered again (their acks lost): nothing is applied twice, nothing is written.
    await asyncio.gather(*(consumers.handle(m) for m in msgs))
    assert await _plan_writes(channel, task_id) == before + 1
    for m in msgs:
        await m.ack()
    await channel.js.delete_consumer(layout.CONTROL_STREAM, "itest-batch-ok")   # a work queue takes one per filter


async def test_when_the_shared_transition_fails_every_result_fails_with_it(channel, scripted):
    consumers = await _coordinator(channel, scripted)
    task_id = "t-batch-fail"
    plan = await _planned(channel, consumers, task_id)
    msgs = await _results(channel, task_id, plan, "itest-batch-fail")
    await channel.plans.delete(task_id)    # the plan is gone: the task can no longer be applied to…
    await channel.tasks.delete(task_id)    # …nor started again from its record
    consumers.coordinator.owned.forget(task_id)

    lock = consumers._lock(task_id)
    await lock.acquire()
    handlers = [asyncio.create_task(consumers.handle(m)) for m in msgs]
    await asyncio.sleep(0.2)
    lock.release()
    outcomes = await asyncio.gather(*handlers, return_exceptions=True)
    assert sum(isinstance(o, Poison) for o in outcomes) == 1, outcomes       # the one that applied them
    assert sum(isinstance(o, Interrupted) for o in outcomes) == 2, outcomes   # the others, redelivered
    for m in msgs:
        await m.ack()
    await channel.js.delete_consumer(layout.CONTROL_STREAM, "itest-batch-fail")


async def test_a_result_handler_stopped_while_waiting_leaves_the_batch(channel, scripted):
    consumers = await _coordinator(channel, scripted)
    task_id = "t-batch-stop"
    plan = await _planned(channel, consumers, task_id)
    msgs = await _results(channel, task_id, plan, "itest-batch-stop")

    lock = consumers._lock(task_id)
    await lock.acquire()
    handlers = [asyncio.create_task(consumers.handle(m)) for m in msgs]
    await asyncio.sleep(0.2)
    handlers[0].cancel()   # its service stops: its message goes back to the stream, not into the others' batch
    await asyncio.sleep(0)
    assert len(consumers._waiting[task_id]) == 2
    lock.release()
    outcomes = await asyncio.gather(*handlers, return_exceptions=True)
    assert isinstance(outcomes[0], asyncio.CancelledError) and outcomes[1:] == [None, None], outcomes
    after, _ = await channel.get_plan(task_id)
    done = {s.subtask_id for s in after.subtasks if s.status == common_pb2.SUBTASK_STATUS_DONE}
    first = channel_pb2.CoordinatorMessage.FromString(msgs[0].data).result.subtask_id
    assert first not in done and len(done) == 2 and task_id not in consumers._waiting
    for m in msgs:
        await m.ack()
    await channel.js.delete_consumer(layout.CONTROL_STREAM, "itest-batch-stop")
