"""The recovery case: tasks in flight across two replicas of a service (coordinator or planner); kill -9 the busier
one and measure how long every task that was in flight waits until it progresses again (its first event after the
kill), and that every task still finishes."""

import asyncio
import os
import signal
import socket
import statistics
import time
from collections import defaultdict

from workforce.core.config import Settings

from bench.orchestration_load import TERMINAL_EVENTS, run_load, succeeded
from bench.proc_cpu import cpu_seconds


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


async def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the new replica's port {port} did not open in {timeout} s")
        await asyncio.sleep(0.1)


async def run_case(system, api_key: str, service: str, concurrency: int = 20, latency_ms: int = 200,
                   tasks: int = 100, kill_after_s: float = 2.0) -> dict:
    system.llm.reset()
    system.llm.script([], default_delay_ms=latency_ms)
    replicas = [s for s in system.services[service] if s.alive()]
    while len(replicas) < 2:  # a second replica, ready before the load starts
        replica = system.start_service(service)
        await _wait_port(int(replica.env["WF_GRPC_PORT"]))
        replicas.append(replica)
    await asyncio.sleep(1.0)  # its consumers bound

    events: dict[str, list[tuple[str, float]]] = defaultdict(list)
    load = asyncio.create_task(run_load(f"http://127.0.0.1:{system.http_port}", api_key, concurrency, tasks,
                                        on_event=lambda task_id, kind, t: events[task_id].append((kind, t))))
    await asyncio.sleep(kill_after_s - 0.5)
    before = [cpu_seconds(r.pid) or 0.0 for r in replicas]
    await asyncio.sleep(0.5)
    busy_index = max(range(len(replicas)), key=lambda n: (cpu_seconds(replicas[n].pid) or 0.0) - before[n])
    busy = replicas[busy_index]
    killed_at = time.time()
    os.kill(busy.pid, signal.SIGKILL)
    busy.killed = True  # System's liveness check expects this one dead
    await asyncio.get_running_loop().run_in_executor(None, busy.proc.wait)
    results, wall = await load

    waits, gaps, stuck, last_end = [], [], 0, killed_at
    # the event each in-flight task had before its longest wait after the kill → those waits
    by_stage: dict[str, list[float]] = defaultdict(list)
    for seen in events.values():
        seen = sorted(seen, key=lambda e: e[1])
        ended = [t for kind, t in seen if kind in TERMINAL_EVENTS]
        if not seen or seen[0][1] > killed_at or (ended and min(ended) <= killed_at):
            continue  # not in flight at the kill
        after = [(kind, t) for kind, t in seen if t > killed_at]
        if not after:
            stuck += 1
            continue
        waits.append(after[0][1] - killed_at)
        steps = [([kind for kind, t in seen if t <= killed_at][-1], killed_at)] + after
        gap, stage = max((b[1] - a[1], a[0]) for a, b in zip(steps, steps[1:]))
        gaps.append(gap)
        by_stage[stage].append(gap)
        last_end = max(last_end, after[-1][1])

    def spread(values: list[float]) -> dict:
        return {"max": round(max(values), 2) if values else None,
                "p50": round(statistics.median(values), 2) if values else None}

    return {
        "service": service, "replicas": len(replicas), "killed": f"{service} pid {busy.pid} (the busier by CPU)",
        "llm_latency_ms": latency_ms, "concurrency": concurrency, "tasks": tasks,
        "succeeded": len(succeeded(results)), "in_flight_at_kill": len(waits) + stuck, "never_progressed": stuck,
        "progress_after_kill_s": spread(waits),       # kill → the task's first event after it
        "longest_wait_after_kill_s": spread(gaps),    # the task's longest time without an event, from the kill on
        "longest_wait_by_event_before_it": {stage: {"tasks": len(w), "max_s": round(max(w), 2)}
                                            for stage, w in sorted(by_stage.items())},
        "in_flight_finished_after_kill_s": round(last_end - killed_at, 2),
        "wall_s": round(wall, 2),
        "control_ack_wait_s": float(system.env_for(service).get(
            "WF_CONTROL_ACK_WAIT_S", Settings.model_fields["control_ack_wait_s"].default)),
    }
