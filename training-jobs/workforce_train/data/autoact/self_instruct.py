"""Self-instruct: new question/answer pairs in the style of the seed examples, generated a few per round
by the LLM from randomly drawn demonstrations (seeds and earlier generations), de-duplicated against
everything seen (normalized exact match, then near-duplicates by difflib ratio ≥ `similarity`).
Appends to a JSONL file; rerunning continues until `total` pairs exist."""

import asyncio
import difflib
import json
import random
from collections.abc import Callable
from pathlib import Path

from ...io import JsonlAppender, iter_jsonl, read_records
from ...scorers.hotpotqa import normalize_answer

SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
                "required": ["question", "answer"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}


def load_seeds(path: str | Path) -> list[dict]:
    seeds = []
    for r in read_records(path):
        q, a = r.get("Question") or r.get("question"), r.get("Answer") or r.get("answer")
        if not q or a is None:
            raise ValueError(f"{path}: every seed needs Question and Answer")
        seeds.append({"question": str(q), "answer": str(a)})
    return seeds


class Deduplicator:
    def __init__(self, similarity: float = 0.9):
        self.similarity = similarity
        self.seen: list[str] = []
        self.exact: set[str] = set()

    def add(self, question: str) -> bool:
        """True when the question is new (and remembers it)."""
        key = normalize_answer(question)
        if not key or key in self.exact:
            return False
        matcher = difflib.SequenceMatcher(a=key, autojunk=False)
        for other in self.seen:
            matcher.set_seq2(other)
            if matcher.quick_ratio() >= self.similarity and matcher.ratio() >= self.similarity:
                return False
        self.exact.add(key)
        self.seen.append(key)
        return True


def _prompt(task: str, demos: list[dict], n: int) -> list[dict]:
    shown = "\n\n".join(f"Question: {d['question']}\nAnswer: {d['answer']}" for d in demos)
    return [
        {
            "role": "system",
            "content": "You write new, diverse evaluation questions with short, verifiable answers.",
        },
        {
            "role": "user",
            "content": f"Task: {task}\n\nExamples:\n{shown}\n\nWrite {n} new question/answer pairs "
            "of the same kind and difficulty: different topics, not paraphrases of the examples, answers as "
            'short as in the examples. Reply with JSON: {"items": [{"question": "...", "answer": "..."}]}.',
        },
    ]


def parse_items(text: str) -> list[dict]:
    try:
        data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    except ValueError:
        return []
    items = data.get("items") if isinstance(data, dict) else None
    return [
        i
        for i in items or []
        if isinstance(i, dict) and str(i.get("question", "")).strip() and str(i.get("answer", "")).strip()
    ]


async def self_instruct(
    llm,
    seeds: list[dict],
    output: str | Path,
    *,
    total: int,
    task: str,
    per_round: int = 10,
    demos: int = 3,
    temperature: float = 0.9,
    max_rounds: int = 0,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Returns the number of pairs in `output` at the end."""
    output, rng = Path(output), random.Random(seed)
    existing = list(iter_jsonl(output)) if output.exists() else []
    dedup = Deduplicator()
    for item in seeds + existing:
        dedup.add(item["question"])
    pool, count, rounds = seeds + existing, len(existing), 0
    max_rounds = max_rounds or 10 * max(1, total // max(1, per_round)) + 10
    with JsonlAppender(output) as out:
        while count < total and rounds < max_rounds:
            rounds += 1
            shown = rng.sample(pool, min(demos, len(pool)))
            result = await llm.chat(
                _prompt(task, shown, per_round),
                role="autoact-meta",
                json_schema=SCHEMA,
                schema_name="self_instruct",
                temperature=temperature,
            )
            for item in parse_items(result.content):
                if count >= total or not dedup.add(item["question"]):
                    continue
                record = {
                    "id": f"si-{count:06d}",
                    "question": item["question"].strip(),
                    "answer": item["answer"].strip(),
                }
                out.write(record)
                pool.append(record)
                count += 1
                if progress:
                    progress(1)
    return count


def run(llm, seeds, output, **kwargs) -> int:
    return asyncio.run(self_instruct(llm, seeds, output, **kwargs))
