"""The orchestration benchmark's load: clients that submit a task of 3 independent subtasks over HTTP and wait
for its terminal Server-Sent Event, N at a time. Shared by bench_orchestration.py and recovery_case.py."""

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime

import httpx

QUESTION = "Benchmark task {i}. SUBTASKS:\n- look up part A of {i}\n- look up part B of {i}\n- look up part C of {i}"
SUBTASKS = 3
TERMINAL_EVENTS = ("task.succeeded", "task.failed", "task.cancelled")

# on_event(task_id, event type, the event's own time as a Unix timestamp) for every event a client reads
EventHook = Callable[[str, str, float], None]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _event_time(event: dict) -> float:
    try:
        return datetime.fromisoformat(event["time"]).timestamp()
    except (KeyError, ValueError):
        return time.time()


async def run_task(client: httpx.AsyncClient, i: int, on_event: EventHook | None = None) -> tuple[float, dict]:
    try:
        return await _run_task(client, i, on_event)
    except (httpx.HTTPError, KeyError, ValueError) as exc:  # counted as not succeeded, reported in the row
        return 0.0, {"status": f"client error: {type(exc).__name__}"}


async def _run_task(client: httpx.AsyncClient, i: int, on_event: EventHook | None) -> tuple[float, dict]:
    started = time.perf_counter()
    response = await client.post("/v1/tasks", json={"question": QUESTION.format(i=i)})
    task_id = response.json()["task_id"]
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as events:
        async for line in events.aiter_lines():
            if on_event is not None and line.startswith("data:"):
                event = json.loads(line[5:])
                on_event(task_id, event.get("type", ""), _event_time(event))
                if event.get("type") in TERMINAL_EVENTS:
                    break
            elif on_event is None and line.startswith("event:") and line[6:].strip() in TERMINAL_EVENTS:
                break
    elapsed = time.perf_counter() - started
    record = (await client.get(f"/v1/tasks/{task_id}")).json()
    return elapsed, record


async def run_load(base_url: str, api_key: str, concurrency: int, tasks: int,
                   on_event: EventHook | None = None) -> tuple[list[tuple[float, dict]], float]:
    """Runs `tasks` tasks, `concurrency` at a time; returns (latency s, task record) per task and the wall time."""
    limits = httpx.Limits(max_connections=concurrency * 2 + 10)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, headers={"Authorization": f"Bearer {api_key}"},
                                 timeout=httpx.Timeout(300)) as client:
        queue = list(range(tasks))
        results = []

        async def client_loop():
            while queue:
                i = queue.pop()
                results.append(await run_task(client, i, on_event))

        started = time.perf_counter()
        await asyncio.gather(*[client_loop() for _ in range(concurrency)])
        return results, time.perf_counter() - started


def succeeded(results: list[tuple[float, dict]]) -> list[tuple[float, dict]]:
    return [r for r in results if r[1].get("status") == "TASK_STATUS_SUCCEEDED"]
