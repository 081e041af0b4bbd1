"""The orchestration benchmark's load: clients that submit a task of 3 independent subtasks over HTTP and wait
for its terminal Server-Sent Event, N at a time. Shared by bench_orchestration.py and recovery_case.py.

The client runs on the same two cores as the system it measures, so it is aiohttp (a C HTTP parser): httpx cost
17-18 ms of CPU per task at concurrency 100, most of what the system itself used."""

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime

import aiohttp

QUESTION = "Benchmark task {i}. SUBTASKS:\n- look up part A of {i}\n- look up part B of {i}\n- look up part C of {i}"
SUBTASKS = 3
SUBMIT_ATTEMPTS = 10  # a submission answered 429 / 503 is retried after Retry-After
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


async def run_task(client: aiohttp.ClientSession, i: int, on_event: EventHook | None = None) -> tuple[float, dict]:
    try:
        return await _run_task(client, i, on_event)
    except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as exc:  # counted as not succeeded, reported in the row
        return 0.0, {"status": f"client error: {type(exc).__name__}", "error": str(exc)[:300]}


async def _run_task(client: aiohttp.ClientSession, i: int, on_event: EventHook | None) -> tuple[float, dict]:
    started = time.perf_counter()
    # No idempotency key (it would add a KV write per task to what is measured): a submission answered 503 by a
    # contended listing index wrote no task record (gateway/tasks.py writes the index entry first), so a retry
    # cannot duplicate it.
    body = {"question": QUESTION.format(i=i)}
    for retries in range(SUBMIT_ATTEMPTS):
        async with client.post("/v1/tasks", json=body) as response:
            status, text = response.status, await response.text()
            retry_after = float(response.headers.get("Retry-After") or 1)
        if status not in (429, 503) or retries == SUBMIT_ATTEMPTS - 1:
            break
        await asyncio.sleep(retry_after)  # as the API asks a client to
    if status not in (200, 201):
        return time.perf_counter() - started, {"status": f"submit answered HTTP {status}", "error": text[:300],
                                               "submit_retries": retries}
    task_id = json.loads(text)["task_id"]
    async with client.get(f"/v1/tasks/{task_id}/events") as events:
        async for raw in events.content:
            line = raw.decode().rstrip("\r\n")
            if on_event is not None and line.startswith("data:"):
                event = json.loads(line[5:])
                on_event(task_id, event.get("type", ""), _event_time(event))
                if event.get("type") in TERMINAL_EVENTS:
                    break
            elif on_event is None and line.startswith("event:") and line[6:].strip() in TERMINAL_EVENTS:
                break
    elapsed = time.perf_counter() - started
    async with client.get(f"/v1/tasks/{task_id}") as response:
        record = await response.json()
    return elapsed, record | {"submit_retries": retries}


async def run_load(base_url: str, api_key: str, concurrency: int, tasks: int,
                   on_event: EventHook | None = None) -> tuple[list[tuple[float, dict]], float]:
    """Runs `tasks` tasks, `concurrency` at a time; returns (latency s, task record) per task and the wall time."""
    connector = aiohttp.TCPConnector(limit=concurrency * 2 + 10)
    async with aiohttp.ClientSession(base_url, connector=connector, headers={"Authorization": f"Bearer {api_key}"},
                                     timeout=aiohttp.ClientTimeout(total=300)) as client:
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
