"""HotpotQA EM / token F1 as AutoAct's reward defines them."""

import pytest
from workforce.evaluation.hotpotqa import exact_match, f1_score, normalize_answer, score


def test_normalization():
    assert normalize_answer("The  Badr-Hari!") == "badrhari"
    assert normalize_answer("an Apple a day") == "apple day"


@pytest.mark.parametrize(
    "prediction,gold,f1",
    [
        ("Badr Hari", "Badr Hari", 1.0),
        ("the Badr Hari.", "Badr Hari", 1.0),
        ("Hari", "Badr Hari", 2 * 1.0 * 0.5 / 1.5),
        ("Badr Hari kickboxer", "Badr Hari", 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)),
        ("yes", "no", 0.0),
        ("no", "No.", 1.0),
        ("yes it is", "yes", 0.0),  # gold yes/no must be matched exactly
        ("Paris", "London", 0.0),
    ],
)
def test_f1(prediction, gold, f1):
    assert f1_score(prediction, gold) == pytest.approx(f1)


def test_exact_match_and_score():
    assert exact_match("The Seine", "seine") and not exact_match("Seine river", "Seine")
    report = score([("Seine", "The Seine"), ("Hari", "Badr Hari"), ("no", "yes")])
    assert report["n"] == 3
    assert report["em"] == pytest.approx(1 / 3)
    assert report["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert score([]) == {"n": 0, "em": 0.0, "f1": 0.0}
