"""ToolBench static metrics as the α-UMi evaluator defines them."""

import json
from pathlib import Path

import pytest
from workforce.evaluation.steps import load_step_samples
from workforce.evaluation.toolbench import argument_f1, evaluate, parse_output

FIXTURE = Path(__file__).parent / "fixtures" / "toolbench_static_sample.json"
SHARED = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "alpha-umi"
    / "toolbench_static_out_of_domain.json"
)
GIVE_UP = "I cannot do this. Next: give up."
KEYS = {"plan_em", "action_em", "hallu_rate", "easy_f1", "hard_f1", "f1", "rouge"}


def _tag_counts(path: Path) -> dict:
    """Planner turns by tag, counted straight from the trajectories."""
    counts = {"caller": 0, "conclusion": 0, "give up": 0}
    for trajectory in json.loads(path.read_text()):
        for turn in trajectory["conversations"]:
            if turn["from"] == "assistant":
                for tag in counts:
                    if f"Next: {tag}." in turn["value"]:
                        counts[tag] += 1
    return counts


def _check_replay(path: Path) -> None:
    samples = load_step_samples(path)
    metrics = evaluate([dict(s, predictions=s["reference"]) for s in samples])
    assert set(metrics) == KEYS
    for key in KEYS - {"hallu_rate"}:
        assert metrics[key] == pytest.approx(1.0, abs=1e-6), key
    assert metrics["hallu_rate"] == 0.0


def test_replayed_reference_scores_one_on_the_sample():
    _check_replay(FIXTURE)


def test_give_up_everywhere_on_the_sample():
    samples = load_step_samples(FIXTURE)
    counts = _tag_counts(FIXTURE)
    assert len(samples) == sum(counts.values())
    metrics = evaluate([dict(s, predictions=GIVE_UP) for s in samples])
    assert metrics["plan_em"] == pytest.approx(counts["give up"] / len(samples))
    assert metrics["action_em"] == 0 and metrics["hallu_rate"] == 0


@pytest.mark.skipif(not SHARED.exists(), reason="../shared data not present")
def test_full_out_of_domain_file():
    samples = load_step_samples(SHARED)
    assert len(samples) == 1547
    assert [parse_output(s["reference"]).plan for s in samples].count("call") == 1146
    _check_replay(SHARED)
    metrics = evaluate([dict(s, predictions=GIVE_UP) for s in samples])
    assert round(metrics["plan_em"], 5) == 0.06917


def test_parse_output_forms():
    call = parse_output(
        'assistant: look it up. Next: caller.</s>caller: Action: get_x\nAction Input: {"a": 1}</s>'
    )
    assert (call.plan, call.action, call.action_input) == ("call", "get_x", '{"a": 1}')
    finish = parse_output("assistant: done. Next: conclusion.</s>conclusion: It is 4.</s>")
    assert (finish.plan, finish.answer) == ("finish", "It is 4.")
    assert parse_output("whatever Next: give up.").plan == "give up"
    untagged = parse_output("no tag and no separator")  # the evaluator treats it as a call with no action
    assert (untagged.plan, untagged.action, untagged.action_input) == ("call", "none", "{}")


def test_argument_f1_rules():
    # equal actions: full match 1, a present key with another value 0.5; precision over the prediction's keys
    easy, hard, f1 = argument_f1(
        ["a", "a", "b", "a"],
        ["a", "a", "a", "a"],
        ['{"x": 1, "y": 2}', "{}", '{"x": 1}', "not json"],
        ['{"x": 1, "y": 3}', "{}", '{"x": 1}', '{"x": 1}'],
    )
    # sample 1: recall (1 + .5)/2 = .75, precision .75 → .75; sample 2: easy 1; sample 3: wrong action 0;
    # sample 4: unparseable prediction 0
    assert hard == pytest.approx((0.75 + 0 + 0) / 3)
    assert easy == pytest.approx((1 + 0) / 2)
    assert f1 == pytest.approx((0.75 + 1 + 0 + 0) / 4)
    # an unparseable reference is skipped
    assert argument_f1(["a"], ["a"], ["{}"], ["{bad"]) == (0.0, 0.0, 0.0)


def test_hallucination_counts_unknown_names_over_all_steps():
    tools = [{"Name": "real"}]
    samples = [
        {
            "tools": tools,
            "reference": "assistant: t Next: caller.</s>caller: Action: real\nAction Input: {}</s>",
            "predictions": "assistant: t Next: caller.</s>caller: Action: fake\nAction Input: {}</s>",
        },
        {"tools": tools, "reference": "x Next: give up.", "predictions": "x Next: give up."},
    ]
    metrics = evaluate(samples)
    assert metrics["hallu_rate"] == 0.5
    assert metrics["plan_em"] == 1.0 and metrics["action_em"] == 0.0


def test_empty_answer_scores_zero_instead_of_crashing():
    samples = [
        {
            "tools": [],
            "reference": "a Next: conclusion.</s>conclusion: The answer is 4.</s>",
            "predictions": "a Next: conclusion.</s>conclusion: </s>",
        }
    ]
    assert evaluate(samples)["rouge"] == 0.0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="sample 0"):
        evaluate([{"reference": "x"}])


def test_matches_the_original_evaluator_on_mixed_predictions():
    """Golden numbers: X-PLUG/Multi-LLM-Agent's evaluate-multi_agent.py (@ f9eeef7) run on the same file,
    whose predictions mix give-ups, wrong and partly right arguments, unparseable arguments, hallucinated
    names, wrong conclusions and exact replays."""
    samples = json.loads((FIXTURE.parent / "mixed_predictions.json").read_text())
    expected = json.loads((FIXTURE.parent / "mixed_predictions.metrics.json").read_text())
    assert evaluate(samples) == expected
