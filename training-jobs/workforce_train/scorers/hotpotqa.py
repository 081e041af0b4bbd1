"""The HotpotQA scorer: exact match and token F1 as the project defines them once (workforce.core.scoring, the
official normalization, as AutoAct uses it for its reward)."""

from workforce.core.scoring import exact_match, f1_precision_recall, normalize_answer

from .base import Item, Score, Scorer

__all__ = ["HotpotQAScorer", "exact_match", "f1_precision_recall", "normalize_answer"]


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
