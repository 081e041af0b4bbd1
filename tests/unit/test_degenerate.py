"""Loops a small model falls into are told apart from text that merely repeats a little."""

from pathlib import Path

import pytest

from workforce.core.llm.degenerate import cut_loop, loop_error, repeated_unit
from workforce.planner.parsing import PlanError, parse_answer, repair_subtasks
from workforce.workers.actions import StepError, read_result

# what SmolLM2-135M wrote for "What is 17 * 23? Check it with Python." in a user's trial
STUCK = "391.0.0.0:100:10" + ":1" * 40
STUCK_LONGER_UNIT = "391.0.0.0" + ":127.0.0" * 20


@pytest.mark.parametrize("text, unit", [
    (STUCK, ":1"),
    (STUCK_LONGER_UNIT, ".0.0:127"),
    ("The result of the subtask is: 1" + "0" * 120, "0"),   # the same trial, "Reverse the string 'workforce'."
    ("ha" * 40, "ha"),
    # the whole answer one loop cut short by the token limit (11 repeats; another trial, "Which planet is the
    # largest in the solar system?")
    ("1.0.0.py</_" * 10 + "1.0.0.py</", "1.0.0.py</_"),
    ("1.0.0.0.run_python.pyc:" + "1.0.0.run_python.pyc:" * 4 + "1.0.0.run_c", ".0.0.run_python.pyc:1"),   # 5 of 21 chars
    # an answer ending in a loop cut inside its unit (a user's trial, a question about an empty attached file)
    ("The attached file is empty.txt" + " (text/plain, 0 bytes)" * 4 + " (", "(text/plain, 0 bytes) "),
])
def test_a_loop_is_found(text, unit):
    assert repeated_unit(text) == unit
    assert unit in loop_error(text)


@pytest.mark.parametrize("text", [
    "391",
    "| a | b | c | d | e | f | g | h | i | j |\n" + "| --- " * 10 + "|",
    "=" * 200,
    "1" + "0" * 100,                      # a googol, written out
    ", ".join(str(i) for i in range(1, 60)),
    "hahaha, that is funny",
    "2**100 = 1267650600228229401496703205376",
    "ab" * 20,                                              # short: under 64 characters
    "Paris. " * 7 + "The capital of France is Paris, on the Seine, with about two million people in the city.",
    "- step one: look it up\n- step two: check it\n- step three: write it down\n- step four: done",
    "Jupiter. Jupiter is the largest planet: 11 times as wide as the Earth and 318 times as heavy.",
    " ".join(["hello world"] * 4),                          # asked for: "say 'hello world' four times"
    "hello world " * 3 + "hello world!",
    "Totals: " + "12.50, " * 4 + "12.5",                     # the loop's unit is under 8 characters
])
def test_text_that_repeats_a_little_is_text(text):
    assert repeated_unit(text) is None and loop_error(text) is None


def test_a_worker_result_stuck_in_a_loop_is_an_unusable_step():
    with pytest.raises(StepError, match="over and over"):
        read_result('{"content": "%s", "failed": false}' % STUCK)
    assert read_result('{"content": "391", "failed": false}') == ("391", False)


def test_a_final_answer_stuck_in_a_loop_is_a_planner_error():
    with pytest.raises(PlanError, match="over and over"):
        parse_answer('{"answer": "%s"}' % STUCK)
    assert parse_answer('{"answer": "391"}') == "391"


def test_a_plans_subtask_stuck_in_a_loop_is_cut_where_it_began_repeating():
    """The trial's plan for 'What is 2+2?': one subtask of 'Compute 2+2, then 2+2, then …' to its length cap; a
    subtask that is nothing but a loop is dropped. A subtask that repeats a little stays as written."""
    looped = "Compute 2+2, then" + " 2+2, then" * 30
    plan = repair_subtasks([{"content": looped}, {"content": "1:" * 60}, {"content": "Report the sum."}], 4,
                           max_chars=300)
    assert [s["content"] for s in plan.subtasks] == ["Compute 2+2, then", "1", "Report the sum."]
    assert plan.repairs == ["cut subtask 1 where it began repeating ' 2+2, then'",
                            "cut subtask 2 where it began repeating '1:'"]
    assert cut_loop("Say 'hello world' four times: " + "hello world " * 4) is None
    assert cut_loop("=" * 200) is None


def _reference_unit(text: str) -> str | None:
    """The rules as plainly stated (regex scans over the whole text, every unit size and cut tried): the fast checks
    in degenerate.py must find exactly what these find."""
    from workforce.core.llm import degenerate as d
    for match in d._LOOP.finditer(text):
        unit, span = match.group(1), match.end() - match.start()
        if any(c.isalnum() for c in unit) and span >= (d.MIN_SINGLE if len(unit) == 1 else d.MIN_SPAN):
            return unit
    body = text.strip()
    if len(body) >= d.MIN_SPAN:
        for match in d._SHORT_LOOP.finditer(body):
            unit, span = match.group(1), match.end() - match.start()
            if (len(set(unit)) > 1 and any(c.isalnum() for c in unit)
                    and span >= max(d.MIN_SPAN, d.WHOLE_SHARE * len(body))):
                return unit
    for size in d.CUT_UNIT:
        for cut in range(1, (size + 1) // 2):
            unit = body[-cut - size:-cut]
            if (len(unit) == size and body.endswith(unit[:cut]) and any(c.isalnum() for c in unit)
                    and (unit + unit).find(unit, 1) == size
                    and body[-cut - d.WHOLE_REPEATS * size:-cut] == unit * d.WHOLE_REPEATS):
                return unit
    return None


def test_the_fast_checks_find_what_the_plain_rules_find():
    import random
    prose = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rng = random.Random(5)
    alphabet = "ab1 (),.x-=|\n"
    found = 0
    for _ in range(6000):
        unit = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 45)))
        start, end = rng.randrange(len(prose)), rng.randrange(len(prose))
        text = (prose[start:start + rng.randint(0, 300)] + unit * rng.choice([0, 2, 4, 5, 15, 16, 20])
                + unit[:rng.randint(0, len(unit))] + prose[end:end + rng.choice([0, 0, 3, 50, 400])])
        if rng.random() < 0.2 and text:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(alphabet) + text[at + 1:]
        expected = _reference_unit(text)
        assert repeated_unit(text) == expected, repr(text)
        found += expected is not None
    assert 1000 < found < 5000   # both kinds of input were tried
