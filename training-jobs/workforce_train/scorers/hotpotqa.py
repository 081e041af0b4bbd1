"""HotpotQA exact match and token F1 with the official normalization (as AutoAct uses it for reward):
lower-case, drop punctuation and the articles a/an/the, collapse whitespace. When either side normalizes
to yes / no / noanswer and the two differ, F1 is 0 (no partial credit for a wrong yes/no)."""

import re
import string
from collections import Counter

from .base import Item, Score, Scorer

_SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def f1_precision_recall(prediction: str, gold: str) -> tuple[float, float, float]:
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or ref in _SPECIAL) and pred != ref:
        return 0.0, 0.0, 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    common = Counter(pred_tokens) & Counter(ref_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_tokens), same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


class HotpotQAScorer(Scorer):
    """value = token F1 (AutoAct's reward); correct = exact match (F1 is 1 whenever EM holds)."""

    name = "hotpotqa"

    def score_one(self, item: Item) -> Score:
        prediction = item.prediction or ""
        f1, precision, recall = f1_precision_recall(prediction, item.gold)
        em = exact_match(prediction, item.gold)
        return Score(
            value=f1, correct=em, detail={"em": float(em), "f1": f1, "precision": precision, "recall": recall}
        )
