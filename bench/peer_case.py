"""The peer case: CAMEL Workforce (camel-ai 0.2.90) on the same tasks, latencies and concurrency, against the same
scripted OpenAI-compatible server. bench/peer_camel.py runs in CAMEL's own virtualenv (bench/setup_camel_venv.sh)
and reports JSON on stdout; this side scripts the server and turns the report into a row like ours."""

import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.orchestration_load import SUBTASKS, percentile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = ROOT / ".bench-venvs" / "camel"
CAMEL_VERSION = "0.2.90"
# CAMEL's calls per task: decomposition, assignment (one call for the three), three worker answers; it joins the
# results without a synthesis call. Critical path: decomposition → assignment → one worker.
LLM_CALLS_ON_CRITICAL_PATH = 3

# CAMEL's prompts, answered as our planner's are: three independent subtasks, all to the one worker ("echo").
DECOMPOSE_MARK = "You need to either decompose a complex task"
ASSIGN_MARK = "You need to assign multiple tasks to worker nodes"
WORKER_MARK = "You need to process one given task"


def rules(latency_ms: int) -> list[dict]:
    subtasks = "".join(f"<task>look up part {p}</task>\n" for p in "ABC")
    assignments = [{"task_id": f"0.{n}", "assignee_id": "echo", "dependencies": []} for n in (1, 2, 3)]
    return [
        {"role": "*", "contains": DECOMPOSE_MARK, "delay_ms": latency_ms, "reply": {"content": f"<tasks>\n{subtasks}</tasks>"}},
        {"role": "*", "contains": ASSIGN_MARK, "delay_ms": latency_ms, "reply": {"content": {"assignments": assignments}}},
        {"role": "*", "contains": WORKER_MARK, "delay_ms": latency_ms,
         "reply": {"content": {"content": "done: looked it up", "failed": False}}},
    ]


def venv_problem(venv: Path) -> str | None:
    """Why the peer case cannot run (None when it can)."""
    python = venv / "bin" / "python"
    if not python.exists():
        return f"no CAMEL virtualenv at {venv} (create it: bash bench/setup_camel_venv.sh)"
    check = subprocess.run([str(python), "-c", "import camel, mcp; print(camel.__version__)"], capture_output=True,
                           text=True, timeout=120)
    if check.returncode != 0:
        return f"camel-ai does not import in {venv}: {check.stderr.strip()[-300:]}"
    if check.stdout.strip() != CAMEL_VERSION:
        return f"{venv} has camel-ai {check.stdout.strip()}, the benchmark pins {CAMEL_VERSION}"
    return None


def run_case(venv: Path, llm, latency_ms: int, concurrency: int, tasks: int, timeout_s: float = 900) -> dict:
    llm.reset()
    llm.script(rules(latency_ms), default_delay_ms=latency_ms)
    row = {"llm_latency_ms": latency_ms, "concurrency": concurrency, "tasks": tasks}
    try:
        done = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "bench" / "peer_camel.py"),
                               "--base-url", llm.base_url, "--concurrency", str(concurrency), "--tasks", str(tasks)],
                              capture_output=True, text=True, timeout=timeout_s, cwd=tempfile.gettempdir(),
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})  # none of our code
    except subprocess.TimeoutExpired:
        return row | {"error": f"timed out after {timeout_s} s"}
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return row | {"error": f"runner exited {done.returncode}: {done.stderr.strip()[-800:]}"}
    latencies = report["latencies_s"] or [0.0]
    critical = LLM_CALLS_ON_CRITICAL_PATH * latency_ms / 1000
    p50 = statistics.median(latencies)
    throughput = tasks / report["wall_s"]
    return row | {
        "succeeded": report["succeeded"], "tasks_per_s": round(throughput, 2), "p50_task_s": round(p50, 4),
        "p99_task_s": round(percentile(latencies, 0.99), 4),
        "p50_overhead_ms_per_subtask": round((p50 - critical) * 1000 / SUBTASKS, 2),
        "llm_bound_efficiency": round(throughput / (concurrency / critical), 3) if critical else None,
        "cpu_ms_per_task": round(report["cpu_s"] * 1000 / tasks, 1),
        **({"errors": report["errors"][:5]} if report["errors"] else {}),
    }


def ratios(ours: dict, peer: dict) -> dict:
    """Ours ÷ CAMEL's: throughput (higher is better for us) and overhead per subtask (lower is better for us)."""
    out = {}
    if peer.get("tasks_per_s"):
        out["throughput_ratio"] = round(ours["tasks_per_s"] / peer["tasks_per_s"], 2)
    if peer.get("p50_overhead_ms_per_subtask"):
        out["overhead_ratio"] = round(ours["p50_overhead_ms_per_subtask"] / peer["p50_overhead_ms_per_subtask"], 2)
    return out
