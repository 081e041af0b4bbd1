"""Orchestration overhead: tasks of 3 independent subtasks (1 decomposition, 1 assignment, 3 worker answers,
1 synthesis) through every service as a separate process, with the scripted LLM answering after 0 or 200 ms.

Writes bench/results/orchestration.json and prints a table. Run: make bench (or python bench/bench_orchestration.py).
"""

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.system import API_KEY, System  # noqa: E402

QUESTION = "Benchmark task {i}. SUBTASKS:\n- look up part A of {i}\n- look up part B of {i}\n- look up part C of {i}"
LLM_CALLS_ON_CRITICAL_PATH = 4  # decompose, assign, one worker (the three run in parallel), synthesize
SUBTASKS = 3


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def run_task(client: httpx.AsyncClient, i: int) -> tuple[float, dict]:
    try:
        return await _run_task(client, i)
    except httpx.HTTPError as exc:  # counted as not succeeded, reported in the row
        return 0.0, {"status": f"client error: {type(exc).__name__}"}


async def _run_task(client: httpx.AsyncClient, i: int) -> tuple[float, dict]:
    started = time.perf_counter()
    response = await client.post("/v1/tasks", json={"question": QUESTION.format(i=i)})
    task_id = response.json()["task_id"]
    async with client.stream("GET", f"/v1/tasks/{task_id}/events") as events:
        async for line in events.aiter_lines():
            if line.startswith("event:") and line.split(":", 1)[1].strip().startswith("task.") and \
                    line.split(":", 1)[1].strip() in ("task.succeeded", "task.failed", "task.cancelled"):
                break
    elapsed = time.perf_counter() - started
    record = (await client.get(f"/v1/tasks/{task_id}")).json()
    return elapsed, record


async def run_case(system: System, latency_ms: int, concurrency: int, tasks: int) -> dict:
    system.llm.script([], default_delay_ms=latency_ms)
    limits = httpx.Limits(max_connections=concurrency * 2 + 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.http_port}", limits=limits,
                                 headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=httpx.Timeout(300)) as client:
        queue = list(range(tasks))
        results = []

        async def client_loop():
            while queue:
                i = queue.pop()
                results.append(await run_task(client, i))

        started = time.perf_counter()
        await asyncio.gather(*[client_loop() for _ in range(concurrency)])
        wall = time.perf_counter() - started
    ok = [r for r in results if r[1]["status"] == "TASK_STATUS_SUCCEEDED"]
    latencies = [r[0] for r in ok] or [0.0]
    prompt_tokens = [sum(int(u.get("prompt_tokens", 0)) for u in r[1].get("usage", {}).values()) for r in ok]
    critical = LLM_CALLS_ON_CRITICAL_PATH * latency_ms / 1000
    p50 = statistics.median(latencies)
    ideal = concurrency / critical if critical else None
    throughput = tasks / wall
    return {
        "llm_latency_ms": latency_ms, "concurrency": concurrency, "tasks": tasks, "succeeded": len(ok),
        "tasks_per_s": round(throughput, 2), "p50_task_s": round(p50, 4), "p99_task_s": round(percentile(latencies, 0.99), 4),
        "p50_overhead_ms_per_subtask": round((p50 - critical) * 1000 / SUBTASKS, 2),
        "llm_bound_efficiency": round(throughput / ideal, 3) if ideal else None,
        "prompt_tokens_per_task": round(statistics.median(prompt_tokens), 1) if prompt_tokens else None,
    }


def main() -> None:
    cases = [(0, 1, 30), (0, 10, 100), (0, 100, 300), (200, 1, 10), (200, 10, 60), (200, 100, 300)]
    if "--quick" in sys.argv:
        cases = [(0, 1, 5), (200, 10, 20)]
    env = {"WF_WORKER_CONCURRENCY": "200", "WF_CONTROL_CONCURRENCY": "128", "WF_LOG_LEVEL": "WARNING",
           "WF_METRICS_PORT": "0",
           "WF_QUOTA_TASKS_IN_FLIGHT": "0", "WF_QUOTA_SUBMISSIONS_PER_MINUTE": "0"}  # measure orchestration, not quotas
    system = System(Path(tempfile.mkdtemp(prefix="wf-bench-")), workers={"echo": 2}, env=env).start()
    rows = []
    try:
        asyncio.run(run_case(system, 0, 4, 8))  # warm-up
        for latency, concurrency, tasks in cases:
            row = asyncio.run(run_case(system, latency, concurrency, tasks))
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        system.stop()
    out = ROOT / "bench" / "results" / "orchestration.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": "2 cores, 24 GiB, no GPU", "cases": rows}, indent=2) + "\n")
    header = ["llm_latency_ms", "concurrency", "tasks", "tasks_per_s", "p50_task_s", "p99_task_s",
              "p50_overhead_ms_per_subtask", "llm_bound_efficiency", "prompt_tokens_per_task"]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))


if __name__ == "__main__":
    main()
