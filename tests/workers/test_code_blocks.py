"""worker-code's code-block agent (WF_LLM_TOOL_MODE=json): the model writes programs, the real sandbox executor
runs them, a clean run's printed output is the result; failures are fed back, and junk never counts."""

import json

import pytest

from tests.workers.worker_helpers import attach, make_context
from workforce.core.llm.client import ChatClient
from workforce.v1 import channel_pb2
from workforce.workers.agent import ToolCallingAgent, make_agent
from workforce.workers.code import spec
from workforce.workers.code.blocks import CodeBlockAgent, block, extract_code, unread_file, unused_quote
from workforce.workers.code.limits import CodeSettings
from workforce.workers.code.remote import RunResult
from workforce.workers.code.tools import CodeTools, not_a_value, reported_error, run_output, run_summary

# fixtures (nats_channel, scripted_llm, sandbox_executor, …) are registered once for the session
pytest_plugins = ["tests.workers.worker_support"]

SETTINGS = dict(code_cpu_s=30, code_wall_s=60, code_memory_mb=2048, llm_tool_mode="json", llm_max_retries=0)
ITEM = channel_pb2.WorkItem(task_id="t-blocks", subtask_id="1", attempt_id="t-blocks/1/1",
                            subtask="Compute the sum of the squares of 1..10.", overall_task="math")


@pytest.fixture(autouse=True)
def _sandbox_url(sandbox_executor, monkeypatch):
    monkeypatch.setenv("WF_SANDBOX_URL", sandbox_executor.url)


pytestmark = pytest.mark.usefixtures("closes_llm_clients")


def agent_for(scripted_llm, **extra):
    settings = CodeSettings(**SETTINGS | {"llm_base_url": scripted_llm.base_url} | extra)
    return make_agent(ChatClient(settings), spec(settings), settings), settings


def program(code: str, prose: str = "") -> dict:
    return {"role": "worker:code", "times": 1, "reply": {"content": f"{prose}{block(code)}\nDone."}}


def test_json_tool_mode_selects_the_block_agent_and_native_mode_the_tool_loop(scripted_llm):
    assert isinstance(agent_for(scripted_llm)[0], CodeBlockAgent)
    native = agent_for(scripted_llm, llm_tool_mode="native")[0]
    assert type(native) is ToolCallingAgent
    assert type(agent_for(scripted_llm, code_actions="tools")[0]) is ToolCallingAgent
    assert isinstance(agent_for(scripted_llm, llm_tool_mode="native", code_actions="blocks")[0], CodeBlockAgent)


async def test_a_failed_program_is_fed_back_and_the_clean_runs_output_is_the_result(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([
        {"role": "worker:code", "contains": "NameError", "times": 1,
         "reply": {"content": "```python\nprint(sum(i * i for i in range(1, 11)))\n```"}},
        program("print(sum(squares))", prose="Here is the program:\n"),
    ])
    agent, settings = agent_for(scripted_llm)
    ctx = make_context(nats_channel, settings, task_id="t-blocks", worker_type="code")
    outcome = await agent.run(ITEM, ctx)
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("385", False, 2)
    assert [call[1] for call in ctx.tool_history] == ['{"code": "print(sum(squares))"}',
                                                      '{"code": "print(sum(i * i for i in range(1, 11)))"}']
    assert "NameError: name 'squares' is not defined" in ctx.tool_history[0][2]
    first, second = scripted_llm.requests()
    assert first["stop"] == ["\n```\n"] and first["json_schema"] is None and first["tools"] is None
    assert second["temperature"] >= 0.7       # the next program is sampled, not the same one again
    # the worked examples come first, as earlier turns, then the subtask
    assert first["messages"][2]["content"] == "```python\nprint(3 ** 5)\n```"
    assert first["messages"][-1]["content"].endswith("Your subtask:\nCompute the sum of the squares of 1..10.")


async def test_a_program_that_prints_nothing_is_asked_to_print(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([program("x = 6 * 7"), program("x = 6 * 7\nprint(x)")])
    agent, settings = agent_for(scripted_llm)
    outcome = await agent.run(ITEM, make_context(nats_channel, settings, worker_type="code"))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("42", False, 2)
    assert "printed nothing" in scripted_llm.requests()[1]["messages"][-1]["content"]


async def test_programs_that_keep_failing_end_failed_within_the_budget(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([program(f"{n} / 0") for n in range(1, 10)][::-1])
    agent, settings = agent_for(scripted_llm, max_tool_calls=5)
    ctx = make_context(nats_channel, settings, worker_type="code")
    outcome = await agent.run(ITEM, ctx)
    assert outcome.failed and outcome.tool_calls == 5 and len(ctx.tool_history) == 5
    assert outcome.content.startswith("no program printed a result (the budget of 5 tool calls is spent"), \
        outcome.content
    assert "; the last: exit status: 1 (error): ZeroDivisionError: division by zero" in outcome.content
    # only the last two programs and their feedback go back to the model (a small model's context is 4096 tokens)
    requests = scripted_llm.requests()
    examples = len(requests[0]["messages"])
    assert [len(r["messages"]) for r in requests] == [examples, examples + 2] + [examples + 4] * 3
    assert requests[-1]["messages"][-4:] == outcome.messages[-6:-2]   # the latest two programs and their feedback
    assert len(outcome.messages) == examples + 2 * len(requests)      # the trajectory keeps every turn


async def test_a_program_written_again_is_not_run_again(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([{"role": "worker:code", "reply": {"content": "```python\n1 / 0\n```"}}])
    agent, settings = agent_for(scripted_llm)
    ctx = make_context(nats_channel, settings, worker_type="code")
    outcome = await agent.run(ITEM, ctx)
    assert outcome.failed and outcome.tool_calls == 1 and len(ctx.tool_history) == 1
    assert outcome.content.startswith("exit status: 1 (error): ZeroDivisionError: division by zero")
    assert outcome.content.endswith("(stopped: the same program was written again)")
    assert "You ran that same program before" in scripted_llm.requests()[2]["messages"][-1]["content"]


async def test_an_attached_text_file_is_previewed_and_read_by_the_program(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([program("import pandas as pd\nprint(pd.read_csv('sales.csv')['units'].sum())")])
    agent, settings = agent_for(scripted_llm)
    ref = await attach(nats_channel, "t-files", "sales.csv", b"region,units\nnorth,12\nsouth,7\neast,20\nwest,3\n",
                       "text/csv")
    image = await attach(nats_channel, "t-files", "chart.png", b"\x89PNG\r\n", "image/png")
    item = channel_pb2.WorkItem(task_id="t-files", subtask_id="1", attempt_id="t-files/1/1", files=[ref, image],
                                subtask="Total the units column of sales.csv.", overall_task="sales")
    ctx = make_context(nats_channel, settings, files=[ref, image], task_id="t-files", worker_type="code")
    outcome = await agent.run(item, ctx)
    assert (outcome.content, outcome.failed) == ("42", False)
    prompt = scripted_llm.requests()[0]["messages"][-1]["content"]
    assert ("- sales.csv (text/csv, 45 bytes)\n  first lines:\n    region,units\n    north,12\n    south,7\n"
            "    east,20\n    west,3\n- chart.png (image/png, 6 bytes)\n\nYour subtask:") in prompt   # text files only


async def test_a_program_that_never_reads_the_attached_file_is_sent_back_unrun(nats_channel, scripted_llm):
    scripted_llm.reset()
    fixed = "print(len(open('notes.txt').read().splitlines()))"
    scripted_llm.script([
        {"role": "worker:code", "contains": "does not read notes.txt", "times": 1, "reply": {"content": block(fixed)}},
        program("print(0)"),     # the count made up, the file never opened
    ])
    agent, settings = agent_for(scripted_llm)
    ref = await attach(nats_channel, "t-unread", "notes.txt", b"", "text/plain")      # an empty file: 0 lines
    item = channel_pb2.WorkItem(task_id="t-unread", subtask_id="1", attempt_id="t-unread/1/1", files=[ref],
                                subtask="Count the lines of the attached file.", overall_task="lines")
    ctx = make_context(nats_channel, settings, files=[ref], task_id="t-unread", worker_type="code")
    outcome = await agent.run(item, ctx)
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("0", False, 1)   # only the reading one ran
    assert [json.loads(call[1])["code"] for call in ctx.tool_history] == [fixed]


@pytest.mark.parametrize("code, subtask, names, unread", [
    ("print(0)", "Count the lines of the attached file.", ["notes.txt"], "notes.txt"),
    ("print(42)", "Total the units column of sales.csv.", ["a.txt", "sales.csv"], "sales.csv"),
    ("import pandas as pd\nprint(pd.read_csv('sales.csv')['units'].sum())", "Total the units of sales.csv.",
     ["sales.csv"], ""),
    ("import os\nprint(len(os.listdir('.')))", "How many files are attached?", ["a.txt", "b.txt"], ""),
    ("print(17 * 23)", "Compute 17 * 23.", ["sales.csv"], ""),       # a subtask not about a file
    ("print(0)", "Count the lines of the attached file.", [], ""),   # nothing attached
])
def test_unread_file(code, subtask, names, unread):
    assert unread_file(code, subtask, names) == unread


async def test_replies_without_a_program_are_a_model_error(nats_channel, scripted_llm):
    scripted_llm.reset()
    scripted_llm.script([{"role": "worker:code", "reply": {"content": "```\n```"}}])
    agent, settings = agent_for(scripted_llm)
    outcome = await agent.run(ITEM, make_context(nats_channel, settings, worker_type="code"))
    assert outcome.failed and outcome.tool_calls == 0
    assert outcome.content == "model error: no program after 3 tries"


@pytest.mark.parametrize("reply, code", [
    ("```python\nprint(1)\n```", "print(1)"),
    ("Sure:\n```py\nx = 2\nprint(x)\n```\nThat prints 2.", "x = 2\nprint(x)"),
    ("```python\nprint(17 * 23)", "print(17 * 23)"),       # cut by the stop sequence
    ("print(len('abc'))", "print(len('abc'))"),             # no fence at all: the reply is the program
    ("```\n```", ""),
    ("", ""),
])
def test_extract_code(reply, code):
    assert extract_code(reply) == code


@pytest.mark.parametrize("result, files, expected", [
    (RunResult(0, None, b"391\n", b"", 0.1, 0.0, "fallback"), [], (True, "391")),
    (RunResult(0, None, b"", b"", 0.1, 0.0, "fallback"), [], (True, "")),
    (RunResult(0, None, b"42\n", b"a warning\n", 0.1, 0.0, "fallback"), ["- out.txt (2 bytes)"], (True, "42")),
    (RunResult(1, None, b"partial\n", b"Traceback ...\n", 0.1, 0.0, "fallback"), [], (False, "partial")),
    (RunResult(None, 9, b"", b"", 0.1, None, "fallback", errors=["CPU time limit"]), [], (False, "")),
])
def test_run_output_reads_back_what_render_wrote(result, files, expected):
    tools = CodeTools(CodeSettings(**SETTINGS), sandbox=None)
    assert run_output(tools.render(result, files)) == expected


@pytest.mark.parametrize("printed, error", [
    ("An error occurred: division by zero", "An error occurred: division by zero"),
    ("Error: file not found", "Error: file not found"),
    ("working...\nZeroDivisionError: division by zero", "ZeroDivisionError: division by zero"),
    ("Traceback (most recent call last):\n  File \"x\", line 1\nNameError: x", "Traceback (most recent call last):"),
    ("391", ""),
    ("Error rate: 5%", ""),
    ("The errors are 3", ""),
    ("ZeroDivisionError", ""),   # the answer to "which exception does 1 / 0 raise?"
    ("The program failed.", "The program failed."),
    ("The program prints 42", ""),
])
def test_reported_error(printed, error):
    assert reported_error(printed) == error


@pytest.mark.parametrize("printed, junk", [
    # two programs of a user's trial, both "succeeded" before
    ("<function compute_total_with_line.<locals>.<lambda> at 0x7ff156a8db20>",
     "<function compute_total_with_line.<locals>.<lambda> at 0x7ff156a8db20>"),
    ("The corrected version is: {result}", "{result}"),
    ("<__main__.Point object at 0x7f3a2c1d0e50>", "<__main__.Point object at 0x7f3a2c1d0e50>"),
    ("<generator object <genexpr> at 0x7f00>", "<generator object <genexpr> at 0x7f00>"),
    ("391", ""), ("{'a': 1}", ""), ("{1, 2}", ""), ('{"total": 42}', ""), ("x <function> y", "<function>"),
    ("${HOME}", ""), ("{{name}}", ""), ("[1, 2] <= [3]", ""),
])
def test_output_that_is_not_a_value(printed, junk):
    assert not_a_value(printed) == junk


def test_a_failure_reason_says_the_status_and_the_error_first():
    text = "exit status: 1 (error)\nstdout:\n" + "pear, apple, " * 200 + "\nstderr:\nTraceback …\nKeyError: 'qty'"
    summary = run_summary(text, 200)
    assert summary.startswith("exit status: 1 (error): KeyError: 'qty' — …") and summary.endswith("KeyError: 'qty'")
    assert len(summary) <= 200
    assert run_summary("exit status: 0 (success)\nstdout:\n(empty)", 200) == \
        "exit status: 0 (success) — stdout: (empty)"
    assert run_summary("wall-time limit of 2 s exceeded", 200) == "wall-time limit of 2 s exceeded"


@pytest.mark.parametrize("subtask, junk, feedback, fixed, answer, runs", [
    # a program that prints an error it caught: it ran, exit status 0, and is fed back all the same
    ("Count the letters r in strawberry.",
     "try:\n    print(strawberry.count('r'))\nexcept Exception as e:\n    print(f'An error occurred: {e}')",
     "The program printed an error instead of the result:\nAn error occurred: name 'strawberry' is not defined",
     "print('strawberry'.count('r'))", "3", 2),
    # a program that leaves out the value its subtask quotes: sent back once, never run
    ("Reverse the word 'workforce'.", "print('Hello, World!'[::-1])", "That program does not use 'workforce'",
     "print('workforce'[::-1])", "ecrofkrow", 1),
    # a function printed instead of called: it ran, and is fed back
    ("Add 2 and 3.", "add = lambda a, b: a + b\nprint(add)", "which is not a value: call the function",
     "print(2 + 3)", "5", 2),
])
async def test_a_junk_program_is_sent_back(nats_channel, scripted_llm, subtask, junk, feedback, fixed, answer, runs):
    scripted_llm.reset()
    scripted_llm.script([
        {"role": "worker:code", "contains": feedback, "times": 1, "reply": {"content": block(fixed)}},
        program(junk),
    ])
    agent, settings = agent_for(scripted_llm)
    item = channel_pb2.WorkItem(task_id="t-junk", subtask_id="1", attempt_id="t-junk/1/1", subtask=subtask,
                                overall_task="checks")
    ctx = make_context(nats_channel, settings, worker_type="code")
    outcome = await agent.run(item, ctx)
    assert (outcome.content, outcome.failed, outcome.tool_calls) == (answer, False, runs)
    assert feedback in scripted_llm.requests()[1]["messages"][-1]["content"]
    assert ctx.tool_history[-1][1] == json.dumps({"code": fixed})


@pytest.mark.parametrize("code, subtask, unused", [
    ("print('Hello, World!'[::-1])", "Reverse the word 'workforce'.", "workforce"),
    ("w = \"workforce\"\nprint(w[::-1])", "Reverse the word 'workforce'.", ""),
    ("print(1)", "What's Bob's age?", ""),                        # apostrophes quote nothing
    ("print(1)", "Upper-case “planner”.", "planner"),
    ("print('strawberry'.count('r'))", 'Count the "r" letters in "strawberry".', ""),
    ("print('berry'.count('x'))", 'Count the "r" letters in "strawberry".', "r"),   # a short value must be quoted
    ("print(17 * 23)", "Compute 17 * 23.", ""),
    ("print(len('Coordinator'))", "Count the letters of 'coordinator'.", ""),   # the value, capitalised
])
def test_unused_quote(code, subtask, unused):
    assert unused_quote(code, subtask) == unused
