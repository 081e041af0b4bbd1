"""`workforce show`'s story lines (story.py) for tool calls: a program that ran and failed says so."""

import pytest

from workforce import story


@pytest.mark.parametrize("ok, result, label", [
    (True, "391", "ok in 0.06 s"),
    (False, "exit status: 1 (error)\nstdout:\n(empty)\nstderr:\nNameError: x", "exit status: 1 (error) in 0.06 s"),
    (True, "exit status: 0 (success)\nstdout:\n(empty)", "exit status: 0 (success) in 0.06 s"),
    (False, "unknown tool 'run_pyhton'", "error in 0.06 s"),
])
def test_a_tool_call_line_says_how_its_run_ended(ok, result, label):
    event = {"type": "tool.call", "data": {"tool": "run_python", "arguments": '{"code": "print(x)"}', "ok": ok,
                                          "duration_s": 0.06, "result": result}}
    call, outcome = story.details(event)
    assert call == f'run_python({{"code": "print(x)"}}) {label}'
    assert outcome.startswith("   → ")


def test_the_story_lists_the_tasks_files():
    record = {"task_id": "t1", "status": "TASK_STATUS_SUCCEEDED", "question": "What is in it?",
              "files": [{"name": "sales.csv", "media_type": "text/csv", "size": "84"}]}
    assert "  file: sales.csv (text/csv, 84 bytes)" in story.tell(record, []).splitlines()


def test_a_subtasks_output_files_are_listed_with_where_to_get_them():
    event = {"type": "subtask.succeeded", "task_id": "t1", "subtask_id": "2", "data": {"files": [
        {"name": "chart data.csv", "size": 120, "media_type": "text/csv", "sha256": "ab"}]}}
    assert story.details(event) == ["file chart data.csv (120 bytes): workforce download t1 2 'chart data.csv'"]


def test_a_planner_try_names_the_model_that_answered():
    """After the OWL loop switches the planner to a trained model, `show -v` says which model planned."""
    event = {"type": "plan.created", "data": {"attempts": [
        {"raw": "{}", "model": "smollm2-135m-instruct", "error": "no subtasks"},
        {"raw": "{\"subtasks\": []}", "model": "owl-planner-r1"}]}}
    assert story.details(event)[0] == "try 1 (smollm2-135m-instruct): no subtasks"
    assert "try 2 (owl-planner-r1): ok" in story.details(event, verbose=True)


def test_a_subtasks_trajectory_comes_before_what_its_transition_dispatched_next():
    event = {"type": "subtask.succeeded", "subtask_id": "1", "data": {
        "trajectory": {"messages": [{"role": "assistant", "content": "391"}]},
        "dispatched": [{"subtask_id": "2", "worker_type": "web", "attempt_id": "t/2/1"}]}}
    assert story.details(event, verbose=True) == ["   assistant: 391", "dispatched 2 to web (t/2/1)"]
