"""Which tool calls wait for a person (WF_APPROVE_TOOLS), their call ids, and a gated call without a task channel."""

from pathlib import Path

from workforce.core.config import Settings
from workforce.workers import tool_approval
from workforce.workers.tools import Tool, ToolContext


def test_patterns_name_a_worker_types_tools_or_one_tool():
    s = Settings(approve_tools=" code.run_python , web.browser_*,tool.*")
    assert tool_approval.gated(s, "code", "run_python")
    assert not tool_approval.gated(s, "code", "run_shell")
    assert tool_approval.gated(s, "web", "browser_fill") and not tool_approval.gated(s, "web", "fetch_page")
    assert tool_approval.gated(s, "tool", "anything")
    assert not tool_approval.gated(Settings(), "code", "run_python")


def test_a_call_id_is_stable_for_the_same_call_and_new_for_another():
    a = tool_approval.call_id("2.r1.1", "t/2.r1.1/3", 1, "run_python", {"code": "print(1)"})
    assert a == tool_approval.call_id("2.r1.1", "t/2.r1.1/3", 1, "run_python", {"code": "print(1)"})
    assert a.startswith("2_r1_1.3.1.") and a.count(".") == 3
    assert a != tool_approval.call_id("2.r1.1", "t/2.r1.1/3", 1, "run_python", {"code": "print(2)"})
    assert a != tool_approval.call_id("2_r1_1", "t/2_r1_1/3", 1, "run_python", {"code": "print(1)"})


async def test_a_gated_call_without_a_task_channel_is_denied(tmp_path: Path):
    ran = []

    async def run(ctx, x: int) -> str:
        ran.append(x)
        return "ran"

    tool = Tool("danger", "d", {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}, run)
    settings = Settings(approve_tools="echo.danger")
    ctx = ToolContext(task_id="t", subtask_id="1", attempt_id="t/1/1", worker_type="echo", settings=settings,
                      workdir=tmp_path)
    outcome = await tool.run(ctx, {"x": 1})
    assert not outcome.ok and "needs a person's approval" in outcome.text and not ran
    bad = await tool.run(ctx, {"x": "not a number"})  # invalid arguments never reach a person
    assert not bad.ok and bad.text.startswith("invalid arguments")
    open_ctx = ToolContext(task_id="t", subtask_id="1", attempt_id="t/1/1", worker_type="echo",
                           settings=Settings(), workdir=tmp_path)
    assert (await tool.run(open_ctx, {"x": 2})).text == "ran" and ran == [2]
