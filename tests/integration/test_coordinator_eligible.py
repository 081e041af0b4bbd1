"""The planner and the coordinator offer worker-document (a pool that needs documents) only to a task with attached
files or a URL in its question: a small model would otherwise plan document subtasks and assign them anyway, and the
worker could only answer "no files are attached" (real NATS, the real planner, coordinator and registry, the
scripted LLM for the calls it records)."""

import json
import re

import pytest

from workforce.coordinator.engine import Coordinator
from workforce.core.channel.registry import eligible
from workforce.core.config import Settings
from workforce.core.llm.client import ChatClient
from workforce.planner.consumer import PlannerConsumer
from workforce.planner.logic import Planner
from workforce.v1 import channel_pb2, common_pb2


pytestmark = pytest.mark.usefixtures("closes_llm_clients")


async def _register(channel, worker_type: str, needs_documents: bool) -> None:
    info = common_pb2.WorkerInfo(worker_type=worker_type, instance_id="i1", description=worker_type,
                                 needs_documents=needs_documents)
    info.heartbeat_at.GetCurrentTime()
    await channel.workers.put(f"{worker_type}.i1", info.SerializeToString())


def _offered(scripted, task_id: str, role: str = "coordinator") -> list[str]:
    asked = [r for r in scripted.requests() if r["role"] == role and r["task"] == task_id]
    text = asked[-1]["messages"][-1]["content"]
    return [w["id"] for w in json.loads(re.search(r"WORKERS_JSON: (\[.*?\])\n", text + "\n").group(1))]


async def test_worker_document_is_offered_only_with_files_or_a_url(channel, scripted):
    await _register(channel, "document", True)
    await _register(channel, "code", False)
    settings = Settings(nats_url=channel.settings.nats_url, llm_base_url=scripted.base_url, llm_max_retries=0,
                        instance_id="c-eligible", record_progress_interval_s=0)
    coordinator = Coordinator(channel, ChatClient(settings), settings)
    cases = {"t-elig-none": ("What is the capital of France?", []),
             "t-elig-url": ("Summarise https://example.org/report.pdf", []),
             "t-elig-file": ("What does the report say?", [common_pb2.FileRef(name="report.pdf", object_key="k")])}
    for task_id, (question, files) in cases.items():
        record = common_pb2.TaskRecord(task_id=task_id, question=question, files=files,
                                       status=common_pb2.TASK_STATUS_QUEUED)
        await channel.tasks.put(task_id, record.SerializeToString())
        ready = channel_pb2.PlanReady(subtasks=[channel_pb2.Subtask(subtask_id="1", content="Read the answer")])
        await coordinator.apply(task_id, f"plan:{task_id}:0", channel_pb2.CoordinatorMessage(task_id=task_id, plan=ready))
    assert _offered(scripted, "t-elig-none") == ["code"]
    assert sorted(_offered(scripted, "t-elig-url")) == ["code", "document"]
    assert sorted(_offered(scripted, "t-elig-file")) == ["code", "document"]
    plan, _ = await channel.get_plan("t-elig-none")
    assert plan.subtasks[0].assignee == "code"


async def test_the_planner_plans_with_the_same_pools(channel, scripted):
    await _register(channel, "document", True)
    await _register(channel, "code", False)
    settings = Settings(nats_url=channel.settings.nats_url, llm_base_url=scripted.base_url, llm_max_retries=0)
    consumer = PlannerConsumer(Planner(ChatClient(settings), settings), channel)
    report = [common_pb2.FileRef(name="report.pdf", object_key="k")]
    for task_id, files in (("t-plan-elig-none", []), ("t-plan-elig-file", report)):
        request = channel_pb2.PlannerRequest(task_id=task_id, decompose=channel_pb2.DecomposeRequest(
            question="What does it say?", files=files))
        await consumer._dispatch(task_id, "decompose", request, None)
    assert _offered(scripted, "t-plan-elig-none", "planner") == ["code"]
    assert sorted(_offered(scripted, "t-plan-elig-file", "planner")) == ["code", "document"]
    failed = channel_pb2.Subtask(subtask_id="1", content="Read it", status=common_pb2.SUBTASK_STATUS_FAILED)
    for task_id, has_files in (("t-replan-elig-none", False), ("t-replan-elig-file", True)):
        request = channel_pb2.PlannerRequest(task_id=task_id, replan=channel_pb2.ReplanRequest(
            question="What does it say?", subtasks=[failed], failed_subtask_id="1", failure_reason="no",
            plan_version=1, has_files=has_files))
        await consumer._dispatch(task_id, "replan", request, None)
    assert _offered(scripted, "t-replan-elig-none", "planner") == ["code"]
    assert sorted(_offered(scripted, "t-replan-elig-file", "planner")) == ["code", "document"]


def test_every_pool_stays_when_only_pools_that_need_documents_exist():
    workers = [{"id": "document", "description": "d", "tools": []}]
    assert eligible(workers, {"document"}, "What is 2 + 2?", has_files=False) == workers
    both = workers + [{"id": "web", "description": "w", "tools": []}]
    assert eligible(both, {"document"}, "What is 2 + 2?", has_files=False) == both[1:]
    assert eligible(both, {"document"}, "Read HTTP://x.org/a.pdf", has_files=False) == both
