"""worker-code end to end: gateway → planner → coordinator → worker-code (separate OS processes); the worker's
program fails, is fixed, runs in the sandbox, and the file it writes lands in the object store."""

import asyncio
import re

import pytest

from workforce.core.channel import connect
from workforce.core.config import Settings
from tests.workers.worker_helpers import task_events, tool_calls

# fixtures (nats_channel, scripted_llm, workers_system, …) are registered once for the session
pytest_plugins = ["tests.workers.worker_support"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIXED = "n = sum(i * i for i in range(1, 11))\nopen('result.txt', 'w').write(str(n))\nprint(n)"


async def _read_object(url: str, key: str) -> bytes:
    channel = await connect(Settings(nats_url=url), name="code-e2e")
    try:
        return (await channel.files.get(key)).data
    finally:
        await channel.close()


def test_code_worker_iterates_and_stores_its_output(workers_system):
    system = workers_system
    system.llm.reset()
    system.llm.script(
        [
            {
                "role": "coordinator",
                "reply": {
                    "content": {"assignments": [{"task_id": "1", "assignee_id": "code", "dependencies": []}]}
                },
            },
            {
                "role": "worker:code",
                "contains": "exit status: 0 (success)",
                "reply": {"content": {"content": "The sum of the squares of 1..10 is 385.", "failed": False}},
            },
            {
                "role": "worker:code",
                "contains": "NameError",
                "reply": {"tool_calls": [{"name": "run_python", "arguments": {"code": FIXED}}]},
            },
            {
                "role": "worker:code",
                "times": 1,
                "reply": {"tool_calls": [{"name": "run_python", "arguments": {"code": "print(total)"}}]},
            },
        ]
    )
    task_id = system.submit("What is the sum of the squares of the integers from 1 to 10?")["task_id"]
    record = system.wait(task_id, timeout=120)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", system.logs()
    assert "385" in record["answer"]

    calls = tool_calls(task_events(system, task_id), "run_python")
    assert len(calls) == 2
    assert "NameError: name 'total' is not defined" in calls[0]["result"]
    assert "exit status: 0 (success)" in calls[1]["result"] and "stdout:\n385" in calls[1]["result"]
    key = re.search(r"result\.txt \(3 bytes, stored as (\S+)\)", calls[1]["result"]).group(1)
    assert key.startswith(f"{task_id}/out/")
    assert asyncio.run(_read_object(system.nats.url, key)) == b"385"
