import pytest

from workforce.planner.parsing import PlanError, parse_answer, parse_subtasks, validate_subtasks


def test_json_plan_structured_or_in_prose():
    text = 'Here is the plan:\n```json\n{"subtasks": [{"id": "a", "content": "search", "dependencies": []},' \
           '{"id": "b", "content": "answer", "dependencies": ["a"]}]}\n```'
    assert parse_subtasks(text, 5) == [{"id": "a", "content": "search", "dependencies": []},
                                       {"id": "b", "content": "answer", "dependencies": ["a"]}]


def test_paper_tasks_form_becomes_a_chain():
    text = "<tasks>\n<task>Find the paper.</task>\n<task>Read table 2.</task>\n<task>Answer.</task>\n</tasks>"
    plan = parse_subtasks(text, 5)
    assert [s["content"] for s in plan] == ["Find the paper.", "Read table 2.", "Answer."]
    assert [s["dependencies"] for s in plan] == [[], ["1"], ["2"]]


@pytest.mark.parametrize("items, error", [
    ([{"id": "1", "content": "x", "dependencies": ["9"]}], "unknown subtask 9"),
    ([{"id": "1", "content": "x", "dependencies": ["2"]}, {"id": "2", "content": "y", "dependencies": ["1"]}],
     "cycle"),
    ([{"id": "1", "content": "x", "dependencies": []}, {"id": "1", "content": "y", "dependencies": []}], "duplicate"),
    ([{"id": "1", "content": "", "dependencies": []}], "no content"),
    ([], "no subtasks"),
])
def test_invalid_plans_are_explained(items, error):
    with pytest.raises(PlanError, match=error):
        validate_subtasks(items, 5)


def test_too_many_subtasks():
    with pytest.raises(PlanError, match="at most 2"):
        validate_subtasks([{"id": str(i), "content": "x", "dependencies": []} for i in range(3)], 2)


def test_no_plan_at_all():
    with pytest.raises(PlanError):
        parse_subtasks("I would rather not.", 5)


def test_answer_from_json_or_text():
    assert parse_answer('{"answer": "Paris"}') == "Paris"
    assert parse_answer("Paris") == "Paris"
