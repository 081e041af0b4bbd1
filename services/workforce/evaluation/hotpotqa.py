"""HotpotQA EM / F1 over a set of predictions (the definitions live in core/scoring.py, shared with training)."""

from ..core.scoring import SPECIAL, exact_match, f1_score, normalize_answer

__all__ = ["SPECIAL", "exact_match", "f1_score", "normalize_answer", "score"]


def score(pairs: list[tuple[str, str]]) -> dict:
    """{n, em, f1} over (prediction, gold) pairs; means, 0 when empty."""
    n = len(pairs)
    return {
        "n": n,
        "em": sum(exact_match(p, g) for p, g in pairs) / n if n else 0.0,
        "f1": sum(f1_score(p, g) for p, g in pairs) / n if n else 0.0,
    }
