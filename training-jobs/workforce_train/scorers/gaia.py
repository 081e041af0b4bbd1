"""GAIA's official answer matching (the leaderboard's question_scorer rules).

- gold is a number: strip `$`, `%`, `,` from the answer and compare as floats (unparseable → no match);
- gold contains `,` or `;`: a list; both split on `[,;]`, same length, element-wise: numbers as above,
  strings with whitespace removed and lower-cased, punctuation kept;
- otherwise a string: whitespace removed, lower-cased, punctuation removed, compared equal.
A missing answer (None) is scored as the string "None".

Usable as `python -m workforce_train.scorers.gaia GOLD ANSWER` (prints 1 or 0).
"""

import re
import string
import sys

from .base import Item, Score, Scorer


def _is_float(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def normalize_number(text: str) -> float | None:
    for char in ("$", "%", ","):
        text = text.replace(char, "")
    try:
        return float(text)
    except ValueError:
        return None


def normalize_str(text: str, *, remove_punct: bool = True) -> str:
    text = re.sub(r"\s", "", text).lower()
    if remove_punct:
        text = text.translate(str.maketrans("", "", string.punctuation))
    return text


def split_list(text: str) -> list[str]:
    return re.split(r"[,;]", text)


def _number_match(answer: str, gold: str) -> bool:
    value = normalize_number(answer)
    return value is not None and value == float(gold)


def question_scorer(answer: str | None, gold: str) -> bool:
    answer = "None" if answer is None else str(answer)
    if _is_float(gold):
        return _number_match(answer, gold)
    if "," in gold or ";" in gold:
        golds, answers = split_list(gold), split_list(answer)
        if len(golds) != len(answers):
            return False
        for a, g in zip(answers, golds):
            if _is_float(g):
                if not _number_match(a, g):
                    return False
            elif normalize_str(a, remove_punct=False) != normalize_str(g, remove_punct=False):
                return False
        return True
    return normalize_str(answer) == normalize_str(gold)


class GaiaScorer(Scorer):
    name = "gaia"

    def score_one(self, item: Item) -> Score:
        return self.verdict(1.0 if question_scorer(item.prediction, item.gold) else 0.0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m workforce_train.scorers.gaia GOLD ANSWER", file=sys.stderr)
        return 2
    print(1 if question_scorer(args[1], args[0]) else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
