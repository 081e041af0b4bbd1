"""worker-code end to end: gateway → planner → coordinator → worker-code (separate OS processes); the worker's
program fails, is fixed, runs in the sandbox, and the file it writes lands in the object store."""

import asyncio

import pytest

from workforce.core.channel import connect, layout
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
    assert "result.txt (3 bytes, saved with the task's files as 'result.txt')" in calls[1]["result"]
    assert f"{task_id}/" not in calls[1]["result"]     # no object-store key in what the model and the user read

    # the subtask's event lists the file, and the API sends it
    succeeded = next(e for e in task_events(system, task_id) if e["type"] == "subtask.succeeded")
    listed = succeeded["data"]["files"]
    assert [(f["name"], f["size"]) for f in listed] == [("result.txt", 3)]
    url = f"/v1/tasks/{task_id}/subtasks/{succeeded['subtask_id']}/files"
    download = system.http.get(f"{url}/result.txt")
    assert download.status_code == 200, download.text
    assert download.content == b"385" and "attachment" in download.headers["content-disposition"]
    key = layout.output_file_key(task_id, succeeded["subtask_id"], listed[0]["sha256"], "result.txt")
    assert asyncio.run(_read_object(system.nats.url, key)) == b"385"   # where the worker stored it
    missing = system.http.get(f"{url}/other.txt")
    assert missing.status_code == 404 and "produced no file 'other.txt'" in missing.json()["error"]["message"]
    assert system.http.get(f"/v1/tasks/t{'0' * 26}/subtasks/1/files/result.txt").status_code == 404
