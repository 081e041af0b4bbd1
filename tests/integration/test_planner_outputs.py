"""One plan per planner request: a redelivered request may call the model again, but its answer has the same message
id, so the server keeps the first; the coordinator records `plan.created` from the message it applies, so the
recorded plan is always the plan run (real NATS, the scripted LLM)."""

import json

from workforce.core.channel import layout
from workforce.core.config import Settings
from workforce.core.llm.client import ChatClient, close_clients
from workforce.planner.consumer import PlannerConsumer
from workforce.planner.logic import Planner
from workforce.v1 import channel_pb2, common_pb2




async def test_a_redelivered_request_leaves_the_first_plan_the_only_one(channel, scripted):
    scripted.reset()
    scripted.script([
        {"role": "planner", "times": 1, "reply": {"content": {"subtasks": [{"content": "first", "dependencies": []}]}}},
        {"role": "planner", "reply": {"content": {"subtasks": [{"content": "second", "dependencies": []}]}}},
    ])
    info = common_pb2.WorkerInfo(worker_type="echo", instance_id="i1", description="echo")
    info.heartbeat_at.GetCurrentTime()
    await channel.workers.put("echo.i1", info.SerializeToString())
    task_id = "t-plan-once"
    await channel.tasks.put(task_id, common_pb2.TaskRecord(task_id=task_id, question="q",
                                                           status=common_pb2.TASK_STATUS_QUEUED).SerializeToString())
    settings = Settings(llm_base_url=scripted.base_url, llm_max_retries=0)
    consumer = PlannerConsumer(Planner(ChatClient(settings), settings), channel)
    request = channel_pb2.PlannerRequest(task_id=task_id, decompose=channel_pb2.DecomposeRequest(question="q"))
    await consumer._dispatch(task_id, "decompose", request, None)
    await consumer._dispatch(task_id, "decompose", request, None)   # the same request, delivered again

    sub = await channel.js.pull_subscribe(layout.COORDINATOR_SUBJECT, durable="itest-plan-once",
                                          stream=layout.CONTROL_STREAM)
    msgs = await sub.fetch(10, timeout=2)
    plans = [channel_pb2.CoordinatorMessage.FromString(m.data) for m in msgs]
    plans = [p for p in plans if p.task_id == task_id]
    assert [[s.content for s in p.plan.subtasks] for p in plans] == [["first"]]   # the second answer was dropped
    trace = json.loads(plans[0].plan.trace_json)   # what the coordinator records as plan.created
    assert "first" in trace["planner_output"] and trace["subtasks"][0]["content"] == "first"
    assert trace["planner_messages"][-1]["role"] == "user"
    await close_clients()
