"""HotpotQA exact match and token F1, as AutoAct computes its reward (the official HotpotQA definitions)."""

import re
import string
from collections import Counter

SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def f1_score(prediction: str, gold: str) -> float:
    """Token F1 after normalization; a yes / no / noanswer on either side must match exactly."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in SPECIAL or ref in SPECIAL) and pred != ref:
        return 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    same = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def score(pairs: list[tuple[str, str]]) -> dict:
    """{n, em, f1} over (prediction, gold) pairs; means, 0 when empty."""
    n = len(pairs)
    return {
        "n": n,
        "em": sum(exact_match(p, g) for p, g in pairs) / n if n else 0.0,
        "f1": sum(f1_score(p, g) for p, g in pairs) / n if n else 0.0,
    }
