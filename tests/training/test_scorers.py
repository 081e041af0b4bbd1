"""Scorers: GAIA's official rules, HotpotQA EM/F1, table QA, embedding cosine (the real packaged model),
LLM-as-judge against the scripted OpenAI-compatible server; the report and the score/report CLI."""

import json

import pytest

from workforce_train.cli import main
from workforce_train.scorers import Item, get_scorer
from workforce_train.scorers.gaia import main as gaia_main
from workforce_train.scorers.gaia import question_scorer
from workforce_train.scorers.hotpotqa import exact_match, f1_precision_recall
from workforce_train.scorers.report import build_report, pass_at_k
from workforce_train.scorers.table import table_match


@pytest.mark.parametrize(
    "answer,gold,expected",
    [
        ("17", "17", True),
        ("$1,000", "1000", True),
        ("12%", "12", True),
        ("17.0", "17", True),
        ("seventeen", "17", False),
        ("17 apples", "17", False),
        (None, "17", False),
        ("Paris", "paris", True),
        (" The  Paris! ", "the paris", True),
        ("Paris", "Lyon", False),
        ("a, b, c", "a,b,c", True),
        ("a; B;c", "a,b,c", True),
        ("a, b", "a,b,c", False),
        ("1, 2.0, x", "1,2,x", True),
        ("1, 3, x", "1,2,x", False),
        ("st. louis, x", "st louis,x", False),  # list elements keep punctuation
        ("St. Louis", "st louis", True),  # plain strings drop it
        (None, "None", True),
    ],
)
def test_gaia_official_rules(answer, gold, expected):
    assert question_scorer(answer, gold) is expected


def test_gaia_cli(capsys):
    assert gaia_main(["1000", "$1,000"]) == 0
    assert capsys.readouterr().out.strip() == "1"
    assert gaia_main(["x"]) == 2


def test_hotpotqa_em_f1():
    assert exact_match("The Eiffel Tower.", "eiffel tower")
    f1, p, r = f1_precision_recall("Eiffel Tower in Paris", "the Eiffel Tower")
    assert (p, r) == (0.5, 1.0) and abs(f1 - 2 / 3) < 1e-9
    assert f1_precision_recall("yes", "no")[0] == 0.0
    assert f1_precision_recall("yes it is", "yes")[0] == 0.0  # gold yes/no: only an exact yes counts
    assert f1_precision_recall("no", "no")[0] == 1.0
    score = get_scorer("hotpotqa").score_one(Item("Eiffel Tower in Paris", "the Eiffel Tower"))
    assert score.correct is False and abs(score.value - 2 / 3) < 1e-9


def test_table_exact_accuracy():
    assert table_match("2,000", "2000.0")
    assert table_match(' "Berlin". ', "berlin")
    assert table_match("b, a", "a|b") and not table_match("a", "a|b")
    assert not table_match("2001", "2000") and not table_match(None, "x")


def test_pass_at_k_and_report():
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 2) == 1.0
    assert abs(pass_at_k(4, 1, 1) - 0.25) < 1e-12 and abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12

    def rec(qid, sample, level, correct, prompt=100, completion=10):
        return {
            "id": qid,
            "sample": sample,
            "level": level,
            "status": "succeeded",
            "latency_s": 1.0 + sample,
            "tokens": {"prompt": prompt, "completion": completion},
            "usage": {"planner": {"prompt_tokens": prompt, "completion_tokens": completion, "requests": 1}},
            "score": {"value": float(correct), "correct": correct},
        }

    records = [
        rec("a", 0, "1", True),
        rec("a", 1, "1", False),
        rec("b", 0, "2", False),
        rec("b", 1, "2", False),
    ]
    report = build_report(records, price_prompt_per_m=1.0, price_completion_per_m=2.0)
    assert report["accuracy"] == 0.25 and report["pass@1"] == 0.25 and report["pass@2"] == 0.5
    assert report["accuracy_by_level"] == {"1": 0.5, "2": 0.0}
    assert report["tokens_per_task"]["total"] == 110
    assert abs(report["cost_per_task"] - (100 * 1 + 10 * 2) / 1e6) < 1e-15
    assert report["tokens_by_role_per_task"]["planner"]["requests"] == 1


@pytest.mark.slow  # importing sentence-transformers takes tens of seconds on 2 cores
async def test_cosine_with_packaged_model():
    scorer = get_scorer("cosine")
    scores = await scorer.score_many(
        [
            Item("The cat is sitting on the mat.", "A cat sits on a mat."),
            Item("Quarterly revenue grew by five percent.", "A cat sits on a mat."),
            Item("", "A cat sits on a mat."),
        ]
    )
    assert scores[0].value > 0.7 and scores[0].correct
    assert scores[1].value < 0.3 and not scores[1].correct
    assert scores[2].value == 0.0 and not scores[2].correct


@pytest.fixture(scope="module")
def scripted_llm(tmp_path_factory):
    from tests.support.scripted_llm import ScriptedLLM

    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


async def test_llm_judge(scripted_llm, monkeypatch):
    from workforce.core.config import Settings
    from workforce.core.llm.client import ChatClient

    scripted_llm.reset()
    scripted_llm.script(
        [
            {
                "role": "judge",
                "contains": "Candidate answer:\n42",
                "reply": {"content": {"reasoning": "same number", "correct": True}},
            },
            {
                "role": "judge",
                "contains": "Candidate answer:\n41",
                "reply": {"content": {"reasoning": "different number", "correct": False}},
            },
            {"role": "judge", "contains": "Candidate answer:\nbanana", "reply": {"content": "I think so"}},
        ]
    )
    llm = ChatClient(Settings(llm_base_url=scripted_llm.base_url, llm_max_retries=0))
    scorer = get_scorer("judge", llm=llm)
    scores = await scorer.score_many(
        [
            Item("42", "forty-two", "6*7?"),
            Item("41", "42", "6*7?"),
            Item("banana", "42", "6*7?"),
            Item("", "42", "6*7?"),
        ]
    )
    assert [s.correct for s in scores] == [True, False, False, False]
    assert scores[0].detail["reason"] == "same number"
    assert scores[2].detail.get("error") is True
    asked = [r for r in scripted_llm.requests() if r["role"] == "judge"]
    assert len(asked) == 3 and all(r["schema"] == "verdict" for r in asked)
    first = next(r for r in asked if "Candidate answer:\n42" in r["messages"][1]["content"])
    assert "Question:\n6*7?\n\nReference answer:\nforty-two" in first["messages"][1]["content"]
    await llm.close()


def test_score_and_report_cli_resume(tmp_path, capsys):
    runs = tmp_path / "runs.jsonl"
    lines = [
        {"id": "q1", "sample": 0, "status": "succeeded", "answer": "1,000", "gold": "1000", "level": "1"},
        {"id": "q1", "sample": 1, "status": "error", "answer": None, "gold": "1000", "level": "1"},
        {"id": "q2", "sample": 0, "status": "failed", "answer": None, "gold": "x", "level": "2"},
    ]
    runs.write_text("".join(json.dumps(r) + "\n" for r in lines))
    scored = tmp_path / "scored.jsonl"
    assert main(["score", "--scorer", "gaia", "--runs", str(runs), "--output", str(scored)]) == 0
    out = [json.loads(x) for x in scored.read_text().splitlines()]
    assert [(r["id"], r["score"]["correct"]) for r in out] == [("q1", True), ("q2", False)]
    # resumable: a second run adds nothing
    assert main(["score", "--scorer", "gaia", "--runs", str(runs), "--output", str(scored)]) == 0
    assert len(scored.read_text().splitlines()) == 2
    capsys.readouterr()
    assert main(["report", "--scored", str(scored), "--json", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["accuracy"] == 0.5 and report["accuracy_by_level"] == {"1": 1.0, "2": 0.0}


def test_unknown_scorer_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("bleu")
