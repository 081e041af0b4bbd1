"""Answer scorers: GAIA (official rules), HotpotQA EM/F1, table-QA exact accuracy, embedding cosine
similarity, LLM-as-judge; plus the evaluation report."""

from .base import Item, Score, Scorer

SCORERS = ("gaia", "hotpotqa", "table", "cosine", "judge")


def get_scorer(name: str, **options) -> Scorer:
    """A scorer by name; options: threshold (cosine), llm / concurrency (judge)."""
    if name == "gaia":
        from .gaia import GaiaScorer

        return GaiaScorer()
    if name == "hotpotqa":
        from .hotpotqa import HotpotQAScorer

        return HotpotQAScorer()
    if name == "table":
        from .table import TableQAScorer

        return TableQAScorer()
    if name == "cosine":
        from .cosine import CosineScorer

        return CosineScorer(**{k: v for k, v in options.items() if k in ("threshold", "model_path")})
    if name == "judge":
        from .judge import JudgeScorer

        return JudgeScorer(**{k: v for k, v in options.items() if k in ("llm", "concurrency")})
    raise ValueError(f"unknown scorer {name!r}; expected one of {', '.join(SCORERS)}")


__all__ = ["SCORERS", "Item", "Score", "Scorer", "get_scorer"]
