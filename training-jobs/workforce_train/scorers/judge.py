"""LLM-as-judge: an OpenAI-compatible model decides whether the answer is equivalent to the gold answer
(the OWL paper's filter for math). Uses the project's LLM client (`workforce.core.llm.client.ChatClient`)
with JSON-schema structured output; a reply that is not the expected JSON counts as "not correct" with
the reason recorded, never as a crash.
"""

import asyncio
import json
import re

from .base import Item, Score, Scorer

SYSTEM = (
    "You grade answers. Given a question, a reference answer and a candidate answer, decide whether the "
    "candidate is correct: it must state the same final result as the reference (equivalent forms, units "
    "and formatting are fine; extra explanation is fine; a different or missing result is not). "
    'Reply with JSON only: {"reasoning": "<one or two sentences>", "correct": true|false}.'
)
SCHEMA = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "correct": {"type": "boolean"}},
    "required": ["reasoning", "correct"],
    "additionalProperties": False,
}


def parse_verdict(text: str) -> tuple[bool | None, str]:
    """(correct, reasoning) from the judge's reply; correct is None when the reply is unusable."""
    match = re.search(r"\{.*\}", text or "", re.S)
    if not match:
        return None, f"no JSON in the judge's reply: {text[:200]!r}"
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None, f"invalid JSON from the judge: {text[:200]!r}"
    if not isinstance(data, dict) or not isinstance(data.get("correct"), bool):
        return None, f"the judge's reply has no boolean 'correct': {text[:200]!r}"
    return data["correct"], str(data.get("reasoning", ""))


class JudgeScorer(Scorer):
    name = "judge"

    def __init__(self, llm=None, *, concurrency: int = 8, role: str = "judge"):
        if llm is None:
            from workforce.core.config import Settings
            from workforce.core.llm.client import ChatClient

            settings = Settings()
            if not settings.llm_base_url:
                raise RuntimeError(
                    "the judge scorer needs an OpenAI-compatible endpoint: set WF_LLM_BASE_URL "
                    "(and WF_LLM_MODEL / WF_LLM_MODELS=judge=<model>)"
                )
            llm = ChatClient(settings)
        self.llm = llm
        self.role = role
        self._limit = asyncio.Semaphore(concurrency)

    async def _judge(self, item: Item) -> Score:
        if not (item.prediction or "").strip():
            return self.verdict(0.0, reason="empty answer")
        messages = [
            {"role": "system", "content": SYSTEM},
            {
                "role": "user",
                "content": f"Question:\n{item.question}\n\nReference answer:\n{item.gold}\n\n"
                f"Candidate answer:\n{item.prediction}",
            },
        ]
        async with self._limit:
            result = await self.llm.chat(
                messages, role=self.role, json_schema=SCHEMA, schema_name="verdict", temperature=0.0
            )
        correct, reasoning = parse_verdict(result.content)
        if correct is None:
            return self.verdict(0.0, reason=reasoning, error=True)
        return self.verdict(
            1.0 if correct else 0.0, reason=reasoning, tokens=result.prompt_tokens + result.completion_tokens
        )

    async def score_many(self, items: list[Item]) -> list[Score]:
        return list(await asyncio.gather(*(self._judge(i) for i in items)))
