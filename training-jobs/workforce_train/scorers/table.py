"""Exact accuracy for table QA (WikiTableQuestions style): the predicted values must equal the gold values
as a set, after normalization (Unicode NFKC, lower case, quotes and a trailing period removed, whitespace
collapsed); values that parse as numbers compare as numbers ("2,000" = "2000.0"). Multiple gold values
are separated by `|` (WTQ's convention); a prediction may use `|`, `,` or `;` when the gold has several."""

import re
import unicodedata

from .base import Item, Score, Scorer


def normalize_value(text: str) -> str | float:
    text = unicodedata.normalize("NFKC", str(text)).strip().lower()
    for _ in range(2):  # quotes and a final period, in either order
        text = re.sub(r"^[\"'`“”‘’]+|[\"'`“”‘’]+$", "", text.strip()).rstrip(".")
    text = re.sub(r"\s+", " ", text).strip()
    number = text.replace(",", "").replace("$", "").replace("%", "")
    try:
        return float(number)
    except ValueError:
        return text


def _values(text: str, separators: str) -> set:
    return {normalize_value(v) for v in re.split(separators, text) if v.strip()}


def table_match(prediction: str | None, gold: str) -> bool:
    if prediction is None:
        return False
    golds = _values(gold, r"\|")
    if len(golds) == 1:
        return {normalize_value(prediction)} == golds
    return _values(prediction, r"[|,;]") == golds


class TableQAScorer(Scorer):
    name = "table"

    def score_one(self, item: Item) -> Score:
        return self.verdict(1.0 if table_match(item.prediction, item.gold) else 0.0)
