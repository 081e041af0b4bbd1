"""Markdown tables of bench/results/orchestration.json, as docs/benchmarks.md shows them.

Run: python bench/orchestration_report.py [path/to/orchestration.json]
"""

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "results" / "orchestration.json"


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cases_table(result: dict) -> list[str]:
    lines = ["| LLM ms | concurrency | tasks | succeeded | submits retried (429/503) | tasks/s | p50 task s | p99 task s | p50 overhead ms / subtask "
             "| LLM-bound efficiency | NATS msgs / task (in; in+out) | CPU ms / task | prompt tokens / task |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["cases"]:
        nats = r.get("nats_msgs_per_task") or {}
        lines.append(f"| {r['llm_latency_ms']} | {r['concurrency']} | {r['tasks']} | {r['succeeded']} "
                     f"| {r.get('submit_retries', 0)} | {fmt(r['tasks_per_s'])} | {fmt(r['p50_task_s'], 3)} | {fmt(r['p99_task_s'], 3)} | {fmt(r['p50_overhead_ms_per_subtask'], 1)} "
                     f"| {fmt(r['llm_bound_efficiency'], 3)} | {fmt(nats.get('in'), 1)}; {fmt(nats.get('in_out'), 1)} "
                     f"| {fmt(r.get('cpu_ms_per_task'), 1)} | {fmt(r.get('prompt_tokens_per_task'), 0)} |")
    return lines


def cpu_table(result: dict) -> list[str]:
    roles = ["gateway", "planner", "coordinator", "workers", "nats"]
    lines = ["| LLM ms | concurrency | " + " | ".join(roles) + " | total | scripted LLM (not counted) "
             "| benchmark client (not counted) |", "|---|---|" + "---|" * (len(roles) + 3)]
    for r in result["cases"]:
        by, harness = r.get("cpu_ms_per_task_by_process", {}), r.get("cpu_ms_per_task_harness", {})
        lines.append(f"| {r['llm_latency_ms']} | {r['concurrency']} | "
                     + " | ".join(fmt(by.get(k), 1) for k in roles)
                     + f" | {fmt(r.get('cpu_ms_per_task'), 1)} | {fmt(harness.get('scripted_llm'), 1)} "
                       f"| {fmt(harness.get('bench_client'), 1)} |")
    return lines


def peer_table(result: dict) -> list[str]:
    peer = result.get("peer") or {}
    if peer.get("skipped"):
        return [f"Peer case skipped: {peer['skipped']}"]
    lines = ["| LLM ms | concurrency | tasks | ours tasks/s | CAMEL tasks/s | throughput ratio (ours ÷ CAMEL) "
             "| ours p50 overhead ms / subtask | CAMEL p50 overhead ms / subtask | overhead ratio (ours ÷ CAMEL) "
             "| ours CPU ms / task | CAMEL CPU ms / task |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in peer.get("cases", []):
        ours = next((r for r in result["cases"] if (r["llm_latency_ms"], r["concurrency"]) ==
                     (p["llm_latency_ms"], p["concurrency"])), {})
        if "error" in p:
            lines.append(f"| {p['llm_latency_ms']} | {p['concurrency']} | {p['tasks']} | {fmt(ours.get('tasks_per_s'))} "
                         f"| error: {p['error'][:80]} | | | | | | |")
            continue
        vs = ours.get("vs_camel", {})
        lines.append(f"| {p['llm_latency_ms']} | {p['concurrency']} | {p['tasks']} | {fmt(ours.get('tasks_per_s'))} "
                     f"| {fmt(p['tasks_per_s'])} | {fmt(vs.get('throughput_ratio'))} "
                     f"| {fmt(ours.get('p50_overhead_ms_per_subtask'), 1)} | {fmt(p['p50_overhead_ms_per_subtask'], 1)} "
                     f"| {fmt(vs.get('overhead_ratio'))} | {fmt(ours.get('cpu_ms_per_task'), 1)} "
                     f"| {fmt(p.get('cpu_ms_per_task'), 1)} |")
    return lines


def recovery_table(result: dict) -> list[str]:
    lines = ["| replica killed (of 2) | in flight at the kill | first event after the kill: max s | p50 s "
             "| longest wait without an event after the kill: max s | p50 s "
             "| never progressed | succeeded | all in-flight finished after s | control ack wait s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.get("recovery", []):
        wait, gap = r["progress_after_kill_s"], r.get("longest_wait_after_kill_s") or {}
        lines.append(f"| {r['service']} | {r['in_flight_at_kill']} | {fmt(wait['max'])} | {fmt(wait['p50'])} "
                     f"| {fmt(gap.get('max'))} | {fmt(gap.get('p50'))} "
                     f"| {r['never_progressed']} | {r['succeeded']} of {r['tasks']} "
                     f"| {fmt(r['in_flight_finished_after_kill_s'])} | {fmt(r['control_ack_wait_s'], 0)} |")
    return lines


def main() -> None:
    result = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT).read_text())
    print(f"Machine: {result.get('machine')}; load average before the run: {result.get('load_average_before')}; "
          f"idle system: {result.get('idle')}\n")
    for table in (cases_table, cpu_table, peer_table, recovery_table):
        print("\n".join(table(result)) + "\n")


if __name__ == "__main__":
    main()
