"""Score the records of a dataset run: each finished attempt gets `score: {scorer, value, correct, detail}`.

Resumable: attempts already in the output are skipped. Attempts that never finished (transport errors)
are not scored; re-running the dataset runner completes them first.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

from ..io import JsonlAppender, iter_jsonl
from .base import Item, Scorer

FINISHED = ("succeeded", "failed", "cancelled")


def attempt_key(record: dict) -> str:
    return f"{record['id']}#{record.get('sample', 0)}"


def latest_attempts(records) -> dict[str, dict]:
    """The last finished record of each (id, sample)."""
    latest: dict[str, dict] = {}
    for record in records:
        if record.get("status") in FINISHED:
            latest[attempt_key(record)] = record
    return latest


async def score_file(
    scorer: Scorer,
    runs: str | Path,
    output: str | Path,
    *,
    batch: int = 64,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append scored records to `output`; returns how many were scored now."""
    output = Path(output)
    done = {attempt_key(r) for r in iter_jsonl(output)} if output.exists() else set()
    todo = [r for key, r in latest_attempts(iter_jsonl(runs)).items() if key not in done]
    scored = 0
    with JsonlAppender(output) as out:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            items = [
                Item(
                    prediction=r.get("answer") if r["status"] == "succeeded" else None,
                    gold=str(r.get("gold", "")),
                    question=r.get("question", ""),
                )
                for r in chunk
            ]
            scores = await scorer.score_many(items)
            for record, score in zip(chunk, scores):
                out.write(
                    {
                        **record,
                        "score": {
                            "scorer": scorer.name,
                            "value": score.value,
                            "correct": score.correct,
                            "detail": score.detail,
                        },
                    }
                )
            scored += len(chunk)
            if progress:
                progress(len(chunk))
    return scored


def score_file_sync(scorer: Scorer, runs, output, **kwargs) -> int:
    return asyncio.run(score_file(scorer, runs, output, **kwargs))
