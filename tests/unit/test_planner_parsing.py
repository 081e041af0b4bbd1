"""The planner's output → a valid plan: repaired where the fix is unambiguous, an error (fed back) otherwise."""

import json

import pytest

from workforce.planner.parsing import (PlanError, off_topic, parse_answer, parse_plan, parse_subtasks,
                                       repair_subtasks)
from workforce.planner.prompts import plan_schema


def test_json_plan_structured_or_in_prose():
    text = 'Here is the plan:\n```json\n{"subtasks": [{"id": "a", "content": "search", "dependencies": []},' \
           '{"id": "b", "content": "answer", "dependencies": ["a"]}]}\n```'
    assert parse_subtasks(text, 5) == [{"id": "a", "content": "search", "dependencies": []},
                                       {"id": "b", "content": "answer", "dependencies": ["a"]}]


def test_positional_plan_from_the_schema():
    plan = parse_plan('{"subtasks": [{"content": "compute", "dependencies": []},'
                      ' {"content": "check", "dependencies": [1]}]}', 4)
    assert plan.subtasks == [{"id": "1", "content": "compute", "dependencies": []},
                             {"id": "2", "content": "check", "dependencies": ["1"]}]
    assert plan.repairs == []


def test_paper_tasks_form_becomes_a_chain():
    text = "<tasks>\n<task>Find the paper.</task>\n<task>Read table 2.</task>\n<task>Answer.</task>\n</tasks>"
    plan = parse_subtasks(text, 5)
    assert [s["content"] for s in plan] == ["Find the paper.", "Read table 2.", "Answer."]
    assert [s["dependencies"] for s in plan] == [[], ["1"], ["2"]]


@pytest.mark.parametrize("items, deps, repair", [
    ([{"content": "x", "dependencies": [9]}], [[]], "unknown dependency '9'"),
    ([{"content": "x", "dependencies": [1]}], [[]], "on itself"),
    ([{"content": "x", "dependencies": [2]}, {"content": "y", "dependencies": [1]}], [[], ["1"]],
     "dropped dependency on 2, a later subtask"),
    ([{"content": "x", "dependencies": [2]}, {"content": "y", "dependencies": []}], [["2"], []], ""),  # no cycle: kept
    ([{"id": "a", "content": "x", "dependencies": ["b"]}, {"id": "b", "content": "y", "dependencies": ["a"]}],
     [["b"], []], "closed a cycle"),   # ids of its own: no order to go by, broken depth-first
    ([{"id": "1", "content": "x", "dependencies": []}, {"id": "1", "content": "y", "dependencies": ["1"]}],
     [[], ["1"]], ""),   # duplicate ids: renumbered by position, the dependency read as position 1
    ([{"content": "", "dependencies": []}, {"content": "y", "dependencies": [1]}], [[]], "no content"),
])
def test_structural_mistakes_are_repaired_and_reported(items, deps, repair):
    plan = repair_subtasks(items, 5)
    assert [s["dependencies"] for s in plan.subtasks] == deps
    if repair:
        assert any(repair in r for r in plan.repairs), plan.repairs
    ids = {s["id"] for s in plan.subtasks}
    assert all(d in ids for s in plan.subtasks for d in s["dependencies"])


def test_a_reference_written_many_times_is_one_repair():
    """A small model's replan listed its subtask's own number 16 times: one repair, told once."""
    plan = repair_subtasks([{"content": "x", "dependencies": [1] * 16 + ["9", 9]}], 5)
    assert plan.repairs == ["subtask 1: dropped dependency on itself", "subtask 1: dropped unknown dependency '9'"]
    # a trial's replan: four copies of one subtask, each depending on 1-4 (merged into one, then repaired once)
    copies = repair_subtasks([{"content": "Sum it.", "dependencies": [1, 2, 3, 4]}] * 4, 5)
    assert len(copies.repairs) == len(set(copies.repairs)) and [s["id"] for s in copies.subtasks] == ["1"]


def test_a_dense_garbage_graph_becomes_a_dag_in_the_order_written():
    # What SmolLM2 wrote in the user trial: every number as every subtask's dependencies.
    n = 4
    items = [{"content": f"step {i}", "dependencies": list(range(1, n + 1))} for i in range(1, n + 1)]
    plan = repair_subtasks(items, n)
    assert [s["dependencies"] for s in plan.subtasks] == [[], ["1"], ["1", "2"], ["1", "2", "3"]]
    order, seen = [], set()
    graph = {s["id"]: s["dependencies"] for s in plan.subtasks}
    while len(order) < n:  # a topological order exists
        ready = [sid for sid, d in graph.items() if sid not in seen and all(x in seen for x in d)]
        assert ready, graph
        seen.update(ready)
        order += ready


def test_a_subtask_written_again_is_merged_into_the_first():
    # SmolLM2's plan for "What is 17 * 23? Check it with Python." in a user trial
    items = [{"content": "Compute 17 * 23.", "dependencies": [2, 3, 4]},
             {"content": "Check 17 * 23.", "dependencies": [3, 4]},
             {"content": "compute 17 * 23", "dependencies": [4]},
             {"content": "Compute  17 * 23.", "dependencies": []}]
    plan = repair_subtasks(items, 4)
    assert [(s["id"], s["content"]) for s in plan.subtasks] == [("1", "Compute 17 * 23."), ("2", "Check 17 * 23.")]
    assert "dropped subtask 3: the same as subtask 1" in plan.repairs
    assert "dropped subtask 4: the same as subtask 1" in plan.repairs
    # references to the merged subtasks now point at the first; the cycle that makes is broken as before
    graph = {s["id"]: s["dependencies"] for s in plan.subtasks}
    assert graph in ({"1": ["2"], "2": []}, {"1": [], "2": ["1"]})


def test_merged_subtasks_keep_their_dependents():
    items = [{"id": "a", "content": "Find the paper"}, {"id": "b", "content": "find the paper."},
             {"id": "c", "content": "Read table 2", "dependencies": ["b"]}]
    plan = repair_subtasks(items, 5)
    assert plan.subtasks == [{"id": "a", "content": "Find the paper", "dependencies": []},
                             {"id": "c", "content": "Read table 2", "dependencies": ["a"]}]


@pytest.mark.parametrize("items, error", [([], "no subtasks"), ([{"content": " "}], "no subtask with content")])
def test_unusable_plans_are_explained(items, error):
    with pytest.raises(PlanError, match=error):
        repair_subtasks(items, 5)


def test_too_many_subtasks():
    with pytest.raises(PlanError, match="at most 2"):
        repair_subtasks([{"content": f"x{i}", "dependencies": []} for i in range(3)], 2)


def test_no_plan_at_all():
    with pytest.raises(PlanError):
        parse_subtasks("I would rather not.", 5)


def test_replan_may_depend_on_done_subtasks():
    plan = parse_plan('{"subtasks": [{"content": "retry", "dependencies": ["a"]}]}', 3, known_ids={"a"})
    assert plan.subtasks[0]["dependencies"] == ["a"]


def test_plan_schema_numbers_dependencies():
    schema = plan_schema(3, 100)
    item = schema["properties"]["subtasks"]["items"]
    assert item["properties"]["dependencies"]["items"] == {"type": "integer", "minimum": 1, "maximum": 3}
    assert item["properties"]["content"]["maxLength"] == 100
    assert "anyOf" in json.dumps(plan_schema(3, 100, ["a"]))


def test_answer_must_be_the_json_object():
    assert parse_answer('{"answer": "Paris"}') == "Paris"
    assert parse_answer('{"answer": 391}') == "391"
    for junk in ("Paris", '{"answer": ""}', "<html>502 Bad Gateway</html>", '{"other": 1}'):
        with pytest.raises(PlanError):
            parse_answer(junk)


def test_an_answer_that_repeats_a_subtask_description_is_not_usable():
    # The user trial: SmolLM2 wrote the CSV question's subtask back as the answer while the worker's result was 52.
    results = [{"id": "1", "content": "Read sales.csv and sum the amount column.", "result": "52"},
               {"id": "2", "content": "Report the total", "result": "The total is 52."}]
    for copied in ("Read sales.csv and sum the amount column", "report the TOTAL."):
        with pytest.raises(PlanError, match="repeats the description of subtask"):
            parse_answer(json.dumps({"answer": copied}), results)
    assert parse_answer('{"answer": "52"}', results) == "52"
    assert parse_answer('{"answer": "The total is 52"}', results) == "The total is 52"
    # a result in the words of its description is still an answer
    echo = [{"id": "1", "content": "Say hello", "result": "Say hello"}]
    assert parse_answer('{"answer": "Say hello"}', echo) == "Say hello"


def test_a_plan_about_something_else_is_off_topic():
    # The user trial: SmolLM2's whole plan for reversing a word.
    unrelated = [{"content": "Compute the number of pages that have been updated since the last update."}]
    assert "workforce" in off_topic("Reverse the word 'workforce'.", unrelated)
    assert off_topic("Reverse the word 'workforce'.", [{"content": "print('workforce'[::-1])"}]) is None
    assert off_topic("What is 17 * 23? Check it with Python.", [{"content": "Multiply 17 by 23."}]) is None
    assert off_topic("Who is the CEO of the company that makes the iPhone?",
                     [{"content": "Find the maker of the device"}, {"content": "Find Apple's CEO"}]) is None
    assert off_topic("Hi?", unrelated) is None            # nothing in the question says what it is about
    assert off_topic("What is it?", unrelated) is None


def test_a_subtask_that_is_a_workers_description_is_dropped():
    workers = [{"id": "web", "description": "Finds information on the web: web search, Wikipedia articles."},
               {"id": "code", "description": "Writes and runs Python code."}]
    plan = json.dumps({"subtasks": [{"content": "Reverse 'kubernetes' with Python.", "dependencies": []},
                                    {"content": "Finds information on the web.", "dependencies": [1]},
                                    {"content": "State the reversed word.", "dependencies": [1, 2]}]})
    parsed = parse_plan(plan, 5, workers=workers)
    assert [(s["id"], s["content"], s["dependencies"]) for s in parsed.subtasks] == [
        ("1", "Reverse 'kubernetes' with Python.", []), ("2", "State the reversed word.", ["1"])]
    assert parsed.repairs == ["dropped subtask 2: a worker's description ('Finds information on the web.'), not a step",
                              "subtask 2: dropped unknown dependency '2'"]
    with pytest.raises(PlanError, match="every subtask is a worker's description"):
        parse_plan(json.dumps({"subtasks": ["writes and runs python code"]}), 5, workers=workers)
    kept = json.dumps({"subtasks": ["Find information on the web about the iPhone's maker.", "Writes",
                                    "Search the web for the capital of France.",
                                    "Run Python code to compute 17 * 23."]})
    assert len(parse_plan(kept, 5, workers=workers).subtasks) == 4    # steps that use a worker's words; too short
    # the default model's copy of worker-web's whole description, a few words changed
    web = ("Finds information on the web: web search, Wikipedia articles and their revision history, archived pages "
           "(Wayback Machine), fetching pages with their text and tables, and a real browser for pages that need "
           "JavaScript, forms or clicks, with screenshots a vision model can read.")
    copy = ("Finds information on the web: web search, Wikipedia articles and their revision history, archived pages "
            "(WayBackMachine), fetching pages with text and tables, and a real browser for pages that need JavaScript, "
            "forms or clicks, with screenshots a vision model can read.")
    parsed = parse_plan(json.dumps({"subtasks": ["Count the letters of 'coordinator'.", copy]}), 5,
                        workers=[{"id": "web", "description": web}])
    assert [s["content"] for s in parsed.subtasks] == ["Count the letters of 'coordinator'."]
