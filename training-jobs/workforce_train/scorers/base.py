"""The scorer interface: a batch of (question, prediction, gold) → a score in [0, 1] and a verdict."""

from dataclasses import dataclass, field


@dataclass
class Item:
    prediction: str | None
    gold: str
    question: str = ""


@dataclass
class Score:
    value: float
    correct: bool
    detail: dict = field(default_factory=dict)


class Scorer:
    """Subclasses implement `score_one` (cheap, synchronous rules) or override `score_many`."""

    name = ""
    threshold = 1.0  # correct when value >= threshold

    def score_one(self, item: Item) -> Score:
        raise NotImplementedError

    async def score_many(self, items: list[Item]) -> list[Score]:
        return [self.score_one(item) for item in items]

    def verdict(self, value: float, **detail) -> Score:
        return Score(value=value, correct=value >= self.threshold, detail=detail)
