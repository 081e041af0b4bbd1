"""HotpotQA exact match and token F1 — the one definition every part of the project uses (the evaluation CLI,
the training scorers, AutoAct's reward): the official HotpotQA normalization (lower-case, drop punctuation and
the articles a / an / the, collapse whitespace); when either side normalizes to yes / no / noanswer and the two
differ, F1 is 0 (no partial credit for a wrong yes / no)."""

import re
import string
from collections import Counter

SPECIAL = ("yes", "no", "noanswer")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def f1_precision_recall(prediction: str, gold: str) -> tuple[float, float, float]:
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in SPECIAL or ref in SPECIAL) and pred != ref:
        return 0.0, 0.0, 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    same = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_tokens), same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


def f1_score(prediction: str, gold: str) -> float:
    return f1_precision_recall(prediction, gold)[0]
