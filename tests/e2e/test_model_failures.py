"""Every way a model backend can fail ends a task with a short reason — never a success built on junk, never a
task stuck in PLANNING, never an endless redelivery. Real processes, the scripted LLM playing a broken backend."""

import pytest

from tests.support.system import plan_events

pytestmark = pytest.mark.e2e

HTML = {"raw_body": "<html><body><h1>502 Bad Gateway</h1></body></html>", "content_type": "text/html"}


def _events(system, task_id):
    return [e["type"] for e in system.events(task_id)]


@pytest.mark.parametrize("broken", [
    HTML,
    {"raw_body": "\xff\xfe\x00garbage", "content_type": "application/json"},
    {"raw_body": '{"subtasks": [{"content": "cut', "content_type": "application/json"},
    {"status": 500, "reply": {}},
])
def test_a_broken_planner_backend_fails_the_task_with_a_reason(system, broken):
    system.llm.script([{"role": "planner", **broken}])
    task_id = system.submit("Plan something")["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_FAILED", record
    reason = record["failure_reason"]
    assert reason.startswith("planner failed to decompose: model error:") and len(reason) <= 400, reason
    types = _events(system, task_id)
    assert "planner.failed" in types and types[-1] == "task.failed"


def test_an_empty_answer_from_the_planner_is_never_a_success(system):
    system.llm.script([{"role": "planner", "raw_body": '{"choices": [{"message": {"content": null}}]}',
                        "content_type": "application/json"}])
    task_id = system.submit("Plan something")["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_FAILED" and "not usable" in record["failure_reason"], record
    # two tries at the plan (then the fallback plan) and two at the answer: the failed calls count too
    assert int(record["usage"]["planner"]["requests"]) == 4, record


@pytest.mark.parametrize("question, reply, error", [
    ("What is two plus two?", "Sure! I will think about it.", "no subtasks found: a"),
    # a plan about something else: what the default model wrote in the user trial
    ("Reverse the word 'workforce'.", {"subtasks": [{"content": "Compute the number of pages that have been updated "
                                                                "since the last update.", "dependencies": []}]},
     "no subtask mentions anything of the task"),
    # subtasks that are a worker pool's description (the default model's replan in a user trial had one)
    ("Add 2 and 2.", {"subtasks": [{"content": "A simple worker for tests.", "dependencies": []}]},
     "every subtask is a worker's description"),
])
def test_an_unusable_plan_is_retried_then_the_task_runs_as_one_subtask(system, question, reply, error):
    system.llm.script([{"role": "planner", "schema": "plan", "reply": {"content": reply}}])
    task_id = system.submit(question)["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    plan = plan_events(system.events(task_id))[0]
    assert [s["content"] for s in plan["data"]["subtasks"]] == [question]
    assert plan["data"]["repairs"][0].startswith("fallback: one subtask")
    assert [a.get("error", "")[:len(error)] for a in plan["data"]["attempts"]] == [error] * 2


def test_junk_worker_results_are_failures_not_answers(system):
    system.llm.script([{"role": "worker:", "reply": {"content": "I am a teapot"}}])
    task_id = system.submit("Do one thing")["task_id"]
    record = system.wait(task_id, timeout=90)
    assert record["status"] == "TASK_STATUS_FAILED", record
    assert "model error: unusable output" in record["failure_reason"]
    assert "I am a teapot" not in record.get("answer", "")


def test_a_junk_final_answer_is_not_a_success(system):
    system.llm.script([{"role": "planner", "schema": "final_answer", "reply": {"content": "<html>oops</html>"}}])
    task_id = system.submit("Answer me")["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_FAILED" and not record.get("answer"), record
    assert "synthesize" in record["failure_reason"]


def test_a_final_answer_that_repeats_the_plan_is_retried(system):
    # What the default model did in the user trial: the plan's subtask written back as the answer.
    system.llm.script([
        {"role": "worker:", "reply": {"content": {"content": "52", "failed": False}}},
        {"role": "planner", "schema": "final_answer", "times": 1,
         "reply": {"content": {"answer": "Sum the amount column of sales.csv"}}},
    ])
    task_id = system.submit("Total it SUBTASKS:\n- Sum the amount column of sales.csv.")["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED" and record["answer"] == "52", record
    done = [e for e in system.events(task_id) if e["type"] == "task.succeeded"][0]
    assert "repeats the description of subtask 1" in done["data"]["attempts"][0]["error"]


def test_a_flaky_backend_is_retried_and_the_task_succeeds(system):
    system.llm.script([{"role": "planner", "schema": "plan", "times": 1, **HTML},
                       {"role": "coordinator", "times": 1, "status": 503, "raw_body": "busy"}])
    task_id = system.submit("Survive a hiccup")["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record


def test_cancel_stops_the_planners_model_call(system):
    system.llm.script([{"role": "planner", "schema": "plan", "delay_ms": 20_000,
                        "reply": {"content": {"subtasks": [{"content": "late", "dependencies": []}]}}}])
    task_id = system.submit("Think for a long time")["task_id"]
    system.events(task_id, timeout=10, until="task.planning")
    before = len([r for r in system.llm.requests() if r["role"] == "planner"])
    cancelled = system.cancel(task_id)
    assert cancelled["status"] == "TASK_STATUS_CANCELLED"
    assert system.log_has("planner", "planner stopped: the task was cancelled", timeout=10)
    record = system.wait(task_id, timeout=10)
    assert record["status"] == "TASK_STATUS_CANCELLED"
    assert "plan.created" not in _events(system, task_id)
    assert len([r for r in system.llm.requests() if r["role"] == "planner"]) == before  # no retry after the cancel


def test_concurrent_tasks_keep_their_own_temperature(system):
    """Each model request carries its own task's sampling temperature, also when the planner handles several tasks
    at once (best-of-n training data depends on it)."""
    system.llm.script([{"role": "planner", "schema": "plan", "delay_ms": 300,
                        "reply": {"content": {"subtasks": [{"content": "Sample in one step", "dependencies": []}]}}}])
    wanted = {}
    for i in range(6):
        temperature = f"{0.1 * (i + 1):.1f}"
        task_id = system.submit(f"Sample {i}", metadata={"temperature": temperature})["task_id"]
        wanted[task_id] = float(temperature)
    for task_id in wanted:
        assert system.wait(task_id, timeout=60)["status"] == "TASK_STATUS_SUCCEEDED"
    seen = [(r["task"], r["role"], r["temperature"]) for r in system.llm.requests() if r["task"] in wanted]
    assert {role for _, role, _ in seen} >= {"planner", "coordinator", "worker:echo"}
    for task_id, role, temperature in seen:
        if role in ("planner", "worker:echo"):
            assert temperature == wanted[task_id], (task_id, role, temperature)


def test_the_answer_can_be_constrained_to_a_number(system):
    system.llm.script([{"role": "planner", "schema": "final_answer", "reply": {"content": {"answer": "391"}}}])
    task_id = system.submit("What is 17 * 23?", metadata={"answer_type": "number"})["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED" and record["answer"] == "391", record
    synth = [r for r in system.llm.requests() if r["task"] == task_id and r["schema"] == "final_answer"][0]
    assert synth["json_schema"]["properties"]["answer"]["pattern"].startswith("^-?[0-9]")
    response = system.http.post("/v1/tasks", json={"question": "x", "metadata": {"answer_type": "date"}})
    assert response.status_code == 400 and "answer_type" in response.text


def test_a_task_over_its_token_budget_fails_with_the_reason(system):
    task_id = system.submit("SUBTASKS:\n- one @echo\n- two @echo after:1\n- three @echo after:2",
                            token_budget=150)["task_id"]
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_FAILED", record
    assert record["failure_reason"].startswith("token budget exceeded") and record["token_budget"] == "150"
    used = sum(int(u["prompt_tokens"]) + int(u["completion_tokens"]) for u in record["usage"].values())
    assert used > 150
    # a budget the plan alone spends: no assignment call, no subtask
    spent = system.submit("SUBTASKS:\n- one @echo", token_budget=1)["task_id"]
    record = system.wait(spent, timeout=60)
    assert record["status"] == "TASK_STATUS_FAILED" and "the budget is 1" in record["failure_reason"], record
    assert {r["role"] for r in system.llm.requests() if r["task"] == spent} == {"planner"}
    ok = system.submit("SUBTASKS:\n- one @echo", token_budget=100_000)["task_id"]
    assert system.wait(ok, timeout=60)["status"] == "TASK_STATUS_SUCCEEDED"
    bad = system.http.post("/v1/tasks", json={"question": "x", "token_budget": -1})
    assert bad.status_code == 400 and "token_budget" in bad.text
