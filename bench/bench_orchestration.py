"""Orchestration overhead: tasks of 3 independent subtasks (1 decomposition, 1 assignment, 3 worker answers,
1 synthesis) through every service as a separate process, with the scripted LLM answering after 0 or 200 ms.

Per case: throughput, latency, overhead per subtask, NATS messages per task (nats-server's /varz) and CPU per task
(/proc accounting of every service process and nats-server). Then the peer case (CAMEL Workforce in its own
virtualenv, bench/peer_case.py) at the same latencies and concurrency, and the recovery cases (kill -9 of the
busier of two coordinator / planner replicas with tasks in flight, bench/recovery_case.py).

Writes bench/results/orchestration.json and prints a table. Run: make bench, or
    python bench/bench_orchestration.py                      # everything (about 10 minutes on 2 cores)
    python bench/bench_orchestration.py --quick              # two small cases and their peer cases (< 2 minutes)
    python bench/bench_orchestration.py --only 200x100,recovery-coordinator --no-peer
A partial run writes bench/results/orchestration-partial.json unless --out says otherwise.
"""

import argparse
import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import peer_case, recovery_case  # noqa: E402
from bench.nats_stats import message_counts, per_task  # noqa: E402
from bench.orchestration_load import SUBTASKS, percentile, run_load, succeeded  # noqa: E402
from bench.proc_cpu import CpuSampler  # noqa: E402
from tests.support.system import API_KEY, System  # noqa: E402

LLM_CALLS_ON_CRITICAL_PATH = 4  # decompose, assign, one worker (the three run in parallel), synthesize
FULL_CASES = [(0, 1, 30), (0, 10, 100), (0, 100, 300), (200, 1, 10), (200, 10, 60), (200, 100, 300)]
PEER_GRID = {(0, 1), (0, 100), (200, 1), (200, 100)}  # the full run's cases that also run on CAMEL
QUICK = "0x1x5,200x10x20"
RECOVERY = ("coordinator", "planner")
ENV = {"WF_WORKER_CONCURRENCY": "200", "WF_CONTROL_CONCURRENCY": "128", "WF_LOG_LEVEL": "WARNING",
       "WF_METRICS_PORT": "0",
       "WF_QUOTA_TASKS_IN_FLIGHT": "0", "WF_QUOTA_SUBMISSIONS_PER_MINUTE": "0"}  # measure orchestration, not quotas


def cpu_groups(system: System) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(every service process and nats-server by role, the harness's processes), as pids."""
    def pids(prefix: str) -> list[int]:
        return [s.pid for name, services in system.services.items() if name.startswith(prefix)
                for s in services if s.alive()]
    counted = {"gateway": pids("gateway"), "planner": pids("planner"), "coordinator": pids("coordinator"),
               "workers": pids("worker-"), "nats": [system.nats.proc.pid]}
    return counted, {"scripted_llm": [system.llm.proc.pid], "bench_client": [os.getpid()]}


async def run_case(system: System, latency_ms: int, concurrency: int, tasks: int) -> dict:
    system.llm.reset()  # the server keeps every request it answered; start each case empty
    system.llm.script([], default_delay_ms=latency_ms)
    counted, harness = cpu_groups(system)
    cpu, cpu_harness = CpuSampler(counted), CpuSampler(harness)
    nats_before, cpu_before, harness_before = message_counts(system.nats.monitor_port), cpu.sample(), cpu_harness.sample()
    results, wall = await run_load(f"http://127.0.0.1:{system.http_port}", API_KEY, concurrency, tasks)
    cpu_used = CpuSampler.delta(cpu_before, cpu.sample())
    harness_used = CpuSampler.delta(harness_before, cpu_harness.sample())
    nats_after = message_counts(system.nats.monitor_port)
    ok = succeeded(results)
    not_ok = collections.Counter(r[1].get("status", "?") for r in results if r not in ok)
    reasons = collections.Counter(str(r[1].get("error") or r[1].get("failure_reason") or "")[:160]
                                  for r in results if r not in ok)
    latencies = [r[0] for r in ok] or [0.0]
    prompt_tokens = [sum(int(u.get("prompt_tokens", 0)) for u in r[1].get("usage", {}).values()) for r in ok]
    critical = LLM_CALLS_ON_CRITICAL_PATH * latency_ms / 1000
    p50 = statistics.median(latencies)
    ideal = concurrency / critical if critical else None
    throughput = len(ok) / wall  # tasks that succeeded
    return {
        "llm_latency_ms": latency_ms, "concurrency": concurrency, "tasks": tasks, "succeeded": len(ok),
        "submit_retries": sum(int(r[1].get("submit_retries", 0)) for r in results),
        **({"not_succeeded": dict(not_ok), "not_succeeded_reasons": dict(reasons.most_common(5))} if not_ok else {}),
        "tasks_per_s": round(throughput, 2), "p50_task_s": round(p50, 4), "p99_task_s": round(percentile(latencies, 0.99), 4),
        "p50_overhead_ms_per_subtask": round((p50 - critical) * 1000 / SUBTASKS, 2),
        "llm_bound_efficiency": round(throughput / ideal, 3) if ideal else None,
        "prompt_tokens_per_task": round(statistics.median(prompt_tokens), 1) if prompt_tokens else None,
        "nats_msgs_per_task": per_task(nats_before, nats_after, tasks),
        "cpu_ms_per_task": round(sum(cpu_used.values()) * 1000 / tasks, 1),
        "cpu_ms_per_task_by_process": {k: round(v * 1000 / tasks, 1) for k, v in cpu_used.items()},
        "cpu_ms_per_task_harness": {k: round(v * 1000 / tasks, 1) for k, v in harness_used.items()},
    }


def idle_rates(system: System, seconds: float = 3.0) -> dict:
    """What the system does with no task at all (pull requests, heartbeats, registry refreshes), per second: the
    part of each case's messages and CPU that does not scale with tasks."""
    time.sleep(1.0)  # the warm-up's last acks
    counted, _ = cpu_groups(system)
    cpu = CpuSampler(counted)
    nats_before, cpu_before = message_counts(system.nats.monitor_port), cpu.sample()
    time.sleep(seconds)
    nats_after, used = message_counts(system.nats.monitor_port), CpuSampler.delta(cpu_before, cpu.sample())
    return {"nats_msgs_in_per_s": round((nats_after["in"] - nats_before["in"]) / seconds, 1),
            "nats_msgs_in_out_per_s": round((nats_after["in"] + nats_after["out"] - nats_before["in"]
                                             - nats_before["out"]) / seconds, 1),
            "cpu_ms_per_s": round(sum(used.values()) * 1000 / seconds, 1)}


def parse_selection(only: str) -> tuple[list[tuple[int, int, int]], list[str]]:
    """'0x1,200x100x50,recovery-coordinator' → ([(0, 1, 30), (200, 100, 50)], ['coordinator'])."""
    default_tasks = {(lat, conc): tasks for lat, conc, tasks in FULL_CASES}
    cases, recovery = [], []
    for name in filter(None, (n.strip() for n in only.split(","))):
        if name.startswith("recovery-") and name[len("recovery-"):] in RECOVERY:
            recovery.append(name[len("recovery-"):])
            continue
        try:
            numbers = [int(n) for n in name.split("x")]
        except ValueError:
            numbers = []
        if len(numbers) == 2 and tuple(numbers) in default_tasks:
            numbers.append(default_tasks[tuple(numbers)])
        if len(numbers) != 3 or min(numbers[1:]) < 1 or numbers[0] < 0:
            raise SystemExit(f"unknown case {name!r}: LATENCYxCONCURRENCY[xTASKS] (e.g. 200x100, 0x1x5) or "
                             f"recovery-coordinator / recovery-planner")
        cases.append(tuple(numbers))
    return cases, recovery


def machine() -> str:
    memory = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores, {memory / 2**20:.0f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"the same as --only {QUICK}")
    parser.add_argument("--only", default="", help="comma-separated cases: LATxCONC[xTASKS], recovery-coordinator, "
                                                   "recovery-planner (peer cases run for the selected load cases)")
    parser.add_argument("--no-peer", action="store_true", help="skip the CAMEL peer cases")
    parser.add_argument("--camel-venv", type=Path, default=peer_case.DEFAULT_VENV)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    partial = bool(args.quick or args.only)
    if partial:
        cases, recovery = parse_selection(args.only or QUICK)
        peer_cases = cases
    else:
        cases, recovery = FULL_CASES, list(RECOVERY)
        peer_cases = [c for c in cases if (c[0], c[1]) in PEER_GRID]
    out = args.out or ROOT / "bench" / "results" / ("orchestration-partial.json" if partial else "orchestration.json")

    peer_skipped = "--no-peer" if args.no_peer else (peer_case.venv_problem(args.camel_venv) if peer_cases else None)
    if peer_skipped and peer_cases:
        print(f"peer case skipped: {peer_skipped}", flush=True)
    load_before = os.getloadavg()[0]
    system = System(Path(tempfile.mkdtemp(prefix="wf-bench-")), workers={"echo": 2}, env=dict(ENV)).start()
    rows, peer_rows, recovery_rows, idle = [], [], [], {}
    try:
        asyncio.run(run_case(system, 0, 4, 8))  # warm-up
        idle = idle_rates(system)
        print("idle", json.dumps(idle), flush=True)
        for latency, concurrency, tasks in cases:
            rows.append(asyncio.run(run_case(system, latency, concurrency, tasks)))
            print(json.dumps(rows[-1]), flush=True)
        if not peer_skipped:
            for latency, concurrency, tasks in peer_cases:
                peer_rows.append(peer_case.run_case(args.camel_venv, system.llm, latency, concurrency, tasks))
                print("camel", json.dumps(peer_rows[-1]), flush=True)
        for service in recovery:
            recovery_rows.append(asyncio.run(recovery_case.run_case(system, API_KEY, service)))
            print("recovery", json.dumps(recovery_rows[-1]), flush=True)
    finally:
        system.stop()

    for row in rows:
        peer = next((p for p in peer_rows if (p["llm_latency_ms"], p["concurrency"]) ==
                     (row["llm_latency_ms"], row["concurrency"]) and "error" not in p), None)
        if peer:
            row["vs_camel"] = peer_case.ratios(row, peer)
    result = {"machine": machine(), "load_average_before": round(load_before, 2), "env": ENV, "idle": idle,
              "cases": rows,
              "peer": {"name": f"CAMEL Workforce (camel-ai {peer_case.CAMEL_VERSION}), one Workforce per thread",
                       "llm_calls_on_critical_path": peer_case.LLM_CALLS_ON_CRITICAL_PATH,
                       "skipped": peer_skipped, "cases": peer_rows},
              "recovery": recovery_rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(rows, peer_rows, recovery_rows)
    print(f"wrote {out}")


def print_tables(rows: list[dict], peer_rows: list[dict], recovery_rows: list[dict]) -> None:
    header = ["llm_latency_ms", "concurrency", "tasks", "tasks_per_s", "p50_task_s", "p99_task_s",
              "p50_overhead_ms_per_subtask", "llm_bound_efficiency", "cpu_ms_per_task", "nats_msgs_per_task"]
    print(" | ".join(header + ["vs_camel"]))
    for row in rows:
        print(" | ".join(str(row.get(h)) for h in header + ["vs_camel"]))
    if peer_rows:
        print("CAMEL: " + " | ".join(header[:8] + ["cpu_ms_per_task"]))
        for row in peer_rows:
            print(" | ".join(str(row.get(h, row.get("error"))) for h in header[:8] + ["cpu_ms_per_task"]))
    for row in recovery_rows:
        print(f"recovery {row['service']}: in flight {row['in_flight_at_kill']}, progress after kill "
              f"{row['progress_after_kill_s']}, succeeded {row['succeeded']}/{row['tasks']}")


if __name__ == "__main__":
    main()
