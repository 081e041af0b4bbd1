"""Runs a dataset through the gateway: every question `samples` times, at most `concurrency` tasks at
once, one JSONL record per attempt (appended as each finishes).

- Retries only on transport errors (connection refused or broken, 429/502/503/504, gRPC UNAVAILABLE), with
  exponential backoff; a retried submit reuses the idempotency key, so it never creates a second task,
  and a broken event stream resumes from the last sequence number seen. An answer is never retried
  because of what it says.
- Resumable: (id, sample) pairs with a finished record (succeeded / failed / cancelled) are skipped; an
  attempt that ended in a transport or gateway error is recorded with status `error` and run again next
  time.
- Sampling temperature goes to the task as metadata `temperature` (the services read it); with
  `temperatures`, sample i runs at temperatures[i % len] (best-of-n over a spread of temperatures).
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..io import JsonlAppender, iter_jsonl
from .dataset import Question
from .gateway import TERMINAL_EVENTS, Gateway, GatewayError, Submission, TransportError
from .trajectory import build_trajectory

FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class RunConfig:
    output: Path
    samples: int = 1
    concurrency: int = 4
    temperature: float | None = None
    temperatures: list[float] = field(default_factory=list)  # per sample index (cycled); wins over temperature
    retries: int = 5  # transport retries per call
    retry_wait_s: float = 1.0  # first backoff; doubles up to 30 s
    task_timeout_s: int = 0  # sent to the gateway; 0 = its default
    run_id: str = ""  # part of every idempotency key; default: the output file's name
    metadata: dict[str, str] = field(default_factory=dict)

    def temperature_of(self, sample: int) -> float | None:
        return self.temperatures[sample % len(self.temperatures)] if self.temperatures else self.temperature


def finished_attempts(output: Path) -> set[tuple[str, int]]:
    if not output.exists():
        return set()
    return {
        (str(r["id"]), int(r.get("sample", 0))) for r in iter_jsonl(output) if r.get("status") in FINISHED
    }


def task_latency(task: dict, started: float) -> float:
    """The latency of a task submitted by an earlier run (reattached by its idempotency key): from its creation to
    its last update, as the gateway recorded them; this run's share when the record has no times."""
    if task.get("created_at") and task.get("updated_at"):
        return max(0.0, task["updated_at"] - task["created_at"])
    return time.perf_counter() - started


class _Attempt:
    def __init__(self, gateway: Gateway, config: RunConfig, question: Question, sample: int):
        self.gateway, self.config, self.q, self.sample = gateway, config, question, sample
        self.transport_retries = 0

    def _retrying(self):
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        def count(state):
            self.transport_retries += 1

        return AsyncRetrying(
            retry=retry_if_exception_type(TransportError),
            reraise=True,
            stop=stop_after_attempt(self.config.retries + 1),
            before_sleep=count,
            wait=wait_exponential(multiplier=self.config.retry_wait_s, max=30),
        )

    async def _submit(self) -> tuple[str, bool]:
        own = self.q.extra.get("metadata") if isinstance(self.q.extra.get("metadata"), dict) else {}
        metadata = {**self.config.metadata, **{k: str(v) for k, v in own.items()},
                    "dataset_id": self.q.id, "sample": str(self.sample)}
        temperature = self.config.temperature_of(self.sample)
        if temperature is not None:
            metadata["temperature"] = str(temperature)
        submission = Submission(
            question=self.q.question,
            answer_format=self.q.answer_format,
            idempotency_key=f"{self.config.run_id}:{self.q.id}:{self.sample}",
            metadata=metadata,
            timeout_s=self.config.task_timeout_s,
            files=self.q.files,
        )
        async for attempt in self._retrying():
            with attempt:
                return await self.gateway.submit(submission)

    async def _watch(self, task_id: str) -> list[dict]:
        events: dict[int, dict] = {}
        async for attempt in self._retrying():
            with attempt:
                start = max(events) + 1 if events else 0
                async for event in self.gateway.events(task_id, start):
                    events[event["seq"]] = event
                    if event["type"] in TERMINAL_EVENTS:
                        return [events[s] for s in sorted(events)]
                raise TransportError(f"event stream of {task_id} ended before the task did")

    async def _get(self, task_id: str) -> dict:
        async for attempt in self._retrying():
            with attempt:
                return await self.gateway.get(task_id)

    async def _plan(self, task_id: str) -> dict | None:
        """The task's final plan state (subtasks with their status and results); optional."""
        try:
            async for attempt in self._retrying():
                with attempt:
                    return await self.gateway.plan(task_id)
        except (TransportError, GatewayError):
            return None

    async def run(self) -> dict:
        started, task_id = time.perf_counter(), ""
        record = {
            "id": self.q.id,
            "sample": self.sample,
            "question": self.q.question,
            "gold": self.q.gold,
            "level": self.q.level,
            "temperature": self.config.temperature_of(self.sample),
            "run_id": self.config.run_id,
            "started_at": time.time(),
        }
        try:
            task_id, created = await self._submit()
            events = await self._watch(task_id)
            task = await self._get(task_id)
            plan = await self._plan(task_id)
        except (TransportError, GatewayError) as exc:
            kind = "transport" if isinstance(exc, TransportError) else "gateway"
            return {
                **record,
                "task_id": task_id,
                "status": "error",
                "error": f"{kind}: {exc}",
                "answer": None,
                "transport_retries": self.transport_retries,
                "latency_s": time.perf_counter() - started,
            }
        usage = task["usage"]
        prompt = sum(u["prompt_tokens"] for u in usage.values())
        completion = sum(u["completion_tokens"] for u in usage.values())
        return {
            **record,
            "task_id": task_id,
            "status": task["status"],
            "answer": task["answer"] if task["status"] == "succeeded" else None,
            "failure_reason": task["failure_reason"],
            "replans": task["replans"],
            "trajectory": build_trajectory(events),
            "plan": plan,
            "usage": usage,
            "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
            "latency_s": time.perf_counter() - started if created else task_latency(task, started),
            "reattached": not created,
            "transport_retries": self.transport_retries,
            "finished_at": time.time(),
        }


async def run_dataset(
    gateway: Gateway,
    questions: list[Question],
    config: RunConfig,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Returns counts: {"skipped", "ran", "succeeded", "failed", "cancelled", "error"}."""
    config.output = Path(config.output)
    config.run_id = config.run_id or config.output.stem or uuid.uuid4().hex[:8]
    done = finished_attempts(config.output)
    todo = [(q, s) for q in questions for s in range(config.samples) if (q.id, s) not in done]
    counts = {
        "skipped": len(questions) * config.samples - len(todo),
        "ran": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "error": 0,
    }
    limit = asyncio.Semaphore(config.concurrency)
    with JsonlAppender(config.output) as out:

        async def one(question: Question, sample: int) -> None:
            async with limit:
                record = await _Attempt(gateway, config, question, sample).run()
            out.write(record)  # one writer: the event loop thread, whole lines
            counts["ran"] += 1
            counts[record["status"] if record["status"] in counts else "error"] += 1
            if progress:
                progress(record)

        await asyncio.gather(*(one(q, s) for q, s in todo))
    return counts
