"""worker-code tools over a real object store and a real sandbox executor process, and its agent iterating on an
error with a scripted model."""

import os

import pytest

from tests.workers import document_fixtures as fx
from tests.workers.worker_helpers import attach, make_context
from workforce.core.llm.client import ChatClient
from workforce.v1 import channel_pb2
from workforce.workers.agent import make_agent
from workforce.workers.code import spec
from workforce.workers.code.limits import CodeSettings

# fixtures (nats_channel, scripted_llm, workers_system, …) are registered once for the session
pytest_plugins = ["tests.workers.worker_support"]

SETTINGS = dict(code_cpu_s=30, code_wall_s=60, code_memory_mb=2048)


@pytest.fixture(autouse=True)
def _sandbox_url(sandbox_executor, monkeypatch):
    monkeypatch.setenv("WF_SANDBOX_URL", sandbox_executor.url)


def test_the_worker_refuses_to_start_without_an_executor(monkeypatch):
    from workforce.workers.code.remote import SandboxNotConfigured

    monkeypatch.delenv("WF_SANDBOX_URL")
    with pytest.raises(SandboxNotConfigured, match="WF_SANDBOX_URL"):
        spec(CodeSettings(**SETTINGS))


def _tools(settings):
    return {t.name: t for t in spec(settings).tools}


async def test_produced_files_are_stored_and_inputs_are_available(nats_channel):
    settings = CodeSettings(**SETTINGS)
    ctx = make_context(
        nats_channel,
        settings,
        [await attach(nats_channel, "t-code", "inventory.xlsx", fx.xlsx())],
        "t-code",
        worker_type="code",
    )
    run = _tools(settings)["run_python"]
    code = """
import pandas as pd
df = pd.read_excel("inventory.xlsx", sheet_name="Inventory")
total = float((df.Quantity * df.Price).sum())
print(f"total={total:.2f}")
df.assign(Total=df.Quantity * df.Price).to_csv("totals.csv", index=False)
"""
    result = await run.run(ctx, {"code": code})
    assert result.ok and "exit status: 0 (success)" in result.text and "total=96.00" in result.text, (
        result.text
    )
    assert "totals.csv" in result.text
    (ref,) = ctx.produced
    assert ref.name == "totals.csv" and ref.object_key.startswith("t-code/out/")
    stored = (await nats_channel.files.get(ref.object_key)).data
    assert stored.decode().splitlines()[0] == "Item,Quantity,Price,Total"
    # files persist between the runs of one subtask; unchanged files are not stored again
    again = await run.run(ctx, {"code": "print(open('totals.csv').read().count('\\n'))"})
    assert again.text == "4" and len(ctx.produced) == 1  # a clean run comes back as its output alone


async def test_errors_and_limits_come_back_as_text(nats_channel):
    settings = CodeSettings(**SETTINGS | {"code_wall_s": 3, "code_result_chars": 400})
    ctx = make_context(nats_channel, settings, worker_type="code")
    run = _tools(settings)["run_python"]
    error = await run.run(ctx, {"code": "print(undefined_name)"})
    # a failed call (its metric and event say so) whose text is the run's own report, for the model to read
    assert not error.ok and error.text.startswith("exit status: 1 (error)\n")
    assert "NameError: name 'undefined_name'" in error.text
    slow = await run.run(ctx, {"code": "import time\ntime.sleep(30)"})
    assert not slow.ok and "wall-time limit of 3 s exceeded" in slow.text
    assert (await run.run(ctx, {"code": "print(6 * 7)"})).ok
    chatty = await run.run(ctx, {"code": "for i in range(2000):\n    print(i)"})
    assert "characters omitted" in chatty.text and "\n1999" in chatty.text and len(chatty.text) < 1200


async def test_links_out_of_the_work_directory_are_not_collected(nats_channel):
    settings = CodeSettings(**SETTINGS)
    ctx = make_context(nats_channel, settings, worker_type="code")
    run = _tools(settings)["run_python"]
    result = await run.run(
        ctx,
        {
            "code": "import os\nos.symlink('/etc/shadow', 'shadow')\n"
            "os.symlink('/etc/hostname', 'host')\nopen('ok.txt', 'w').write('ok')"
        },
    )
    assert [r.name for r in ctx.produced] == ["ok.txt"], result.text


async def test_shell_tool_only_when_enabled(nats_channel):
    assert "run_shell" not in _tools(CodeSettings(**SETTINGS))
    settings = CodeSettings(**SETTINGS | {"code_shell_enabled": True})
    ctx = make_context(nats_channel, settings, worker_type="code")
    result = await _tools(settings)["run_shell"].run(ctx, {"command": "echo $((6 * 7)) | tee answer.txt"})
    assert "stdout:\n42" in result.text and [r.name for r in ctx.produced] == ["answer.txt"]


async def test_agent_fixes_its_code_after_an_error(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script(
        [
            {
                "role": "worker:code",
                "contains": "\n385",
                "reply": {"content": {"content": "The sum of squares 1..10 is 385.", "failed": False}},
            },
            {
                "role": "worker:code",
                "contains": "NameError",
                "reply": {
                    "tool_calls": [
                        {
                            "name": "run_python",
                            "arguments": {"code": "print(sum(i * i for i in range(1, 11)))"},
                        }
                    ]
                },
            },
            {
                "role": "worker:code",
                "times": 1,
                "reply": {
                    "tool_calls": [{"name": "run_python", "arguments": {"code": "print(sum(squares))"}}]
                },
            },
        ]
    )
    settings = CodeSettings(**SETTINGS | {"llm_base_url": scripted_llm.base_url, "max_tool_calls": 5})
    worker = spec(settings)
    agent = make_agent(ChatClient(settings), worker, settings)
    item = channel_pb2.WorkItem(
        task_id="t-agent",
        subtask_id="1",
        attempt_id="t-agent/1/1",
        subtask="Compute the sum of the squares of 1..10.",
        overall_task="math",
    )
    ctx = make_context(nats_channel, settings, task_id="t-agent", worker_type="code")
    outcome = await agent.run(item, ctx)
    assert (outcome.content, outcome.failed, outcome.tool_calls) == (
        "The sum of squares 1..10 is 385.",
        False,
        2,
    )
    tool_results = [m["content"] for m in outcome.messages if m["role"] == "tool"]
    assert "NameError: name 'squares' is not defined" in tool_results[0]
    assert tool_results[1] == "385"


@pytest.mark.skipif(os.geteuid() != 0, reason="uid separation needs a root executor")
async def test_runs_as_an_unprivileged_user(nats_channel):
    from workforce.sandbox.limits import SandboxSettings

    settings = CodeSettings(**SETTINGS)
    ctx = make_context(nats_channel, settings, worker_type="code")
    result = await _tools(settings)["run_python"].run(
        ctx, {"code": "import os\nprint(os.getuid(), os.getgid(), os.getppid())"}
    )
    uid, gid, _ = map(int, result.text.split()[:3])
    assert uid >= SandboxSettings().code_uid_base and gid == uid


async def test_a_run_that_kills_the_executor_fails_cleanly(nats_channel, tmp_path):
    """An executor that dies mid-run (or is not there) is a failed run the model reads, not a crash."""
    settings = CodeSettings(**SETTINGS | {"sandbox_url": "127.0.0.1:1", "sandbox_connect_timeout_s": 1,
                                          "code_wall_s": 1})
    ctx = make_context(nats_channel, settings, worker_type="code")
    result = await _tools(settings)["run_python"].run(ctx, {"code": "print(1)"})
    assert "the sandbox executor could not run the code" in result.text and result.duration_s < 10
