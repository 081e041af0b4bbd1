"""The local system on its default model (`make run`'s path) → bench/results/local.json.

- setup: seconds and disk of `make setup-run` in a fresh clone (package caches as they are; --setup to run it);
- start: seconds from `python -m workforce.local` to "ready";
- memory: RSS of every local process together (model server, nats-server, services), idle and peak;
- model server: decode and schema-constrained tokens/s on 1 and 2 threads;
- 20 simple questions with known answers: completion rate (SUCCEEDED with an answer), accuracy by the GAIA
  scorer, median seconds per task, plan validity — and the same model answering the same questions directly.

Run: .venv/bin/python bench/bench_local.py [--setup] [--questions N]
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "training-jobs")]
from bench.local_questions import NUMBER, QUESTIONS  # noqa: E402
from workforce.local.nats_server import free_port  # noqa: E402
from workforce.core.llm.client import COMPACT_JSON, LLGUIDANCE_JSON  # noqa: E402
from workforce.core.local_model import resolve  # noqa: E402
from workforce.planner.prompts import answer_schema  # noqa: E402
from workforce_train.scorers.gaia import question_scorer  # noqa: E402

PY = sys.executable


def rss_of_tree(root_pid: int) -> int:
    """Bytes of resident memory of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int, period_s: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.period_s, self.peak, self.stop = pid, period_s, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_of_tree(self.pid))
            self.stop.wait(self.period_s)


def measure_setup() -> dict:
    with tempfile.TemporaryDirectory(prefix="wf-fresh-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        started = time.perf_counter()
        done = subprocess.run(["make", "setup-run"], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        du = subprocess.run(["du", "-sb", str(clone / ".venv")], capture_output=True, text=True)
        second = time.perf_counter()
        subprocess.run(["make", "setup-run"], cwd=clone, capture_output=True, text=True)
        return {"seconds": round(seconds, 1), "ok": done.returncode == 0, "venv_bytes": int(du.stdout.split()[0]),
                "second_start_seconds": round(time.perf_counter() - second, 2),
                "output_lines": len(done.stdout.splitlines()) + len(done.stderr.splitlines())}


def model_speed(threads: int) -> dict:
    """Decode and constrained tok/s of the model server with N threads (llama.cpp's own timings)."""
    port = free_port()
    env = {**os.environ, "WF_MODEL_SERVER_PORT": str(port), "WF_MODEL_SERVER_THREADS": str(threads),
           "WF_MODEL_SERVER_PARALLEL": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "workforce.services", "model-server"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        start_s = time.perf_counter() - started
        messages = [{"role": "user", "content": "Write a long story about a robot who learns to paint."}]
        schema = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 80},
                                                   "story": {"type": "string", "minLength": 300, "maxLength": 600}},
                  "required": ["title", "story"], "additionalProperties": False}
        free, constrained = [], []
        for _ in range(3):
            r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={
                "messages": messages, "max_tokens": 128, "temperature": 0, "ignore_eos": True}).json()
            free.append(r["timings"]["predicted_per_second"])
            r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={
                "messages": messages, "max_tokens": 128, "temperature": 0,
                "grammar": "%llguidance {}\nstart: %json " + json.dumps(schema)}).json()
            constrained.append(r["timings"]["predicted_per_second"])
        return {"threads": threads, "start_s": round(start_s, 2), "decode_tok_s": round(statistics.median(free), 1),
                "constrained_tok_s": round(statistics.median(constrained), 1)}
    finally:
        proc.terminate()
        proc.wait(10)


def ask_directly(url: str, model: str, q: dict, constrained: bool = False) -> str:
    """The same model, the same question (the file's text inline), no Workforce; optionally with the answer
    constrained to the same JSON schema the Workforce's synthesis uses."""
    question = q["question"]
    if "file" in q:
        name, text = q["file"]
        question += f"\n\n{name}:\n{text}"
    body = {"model": model, "temperature": 0, "max_tokens": 128,
            "messages": [{"role": "user", "content": f"{question}\n{q['format']}"}]}
    if constrained:
        schema = answer_schema(200, answer_metadata(q).get("answer_type", "text"))
        body["grammar"] = LLGUIDANCE_JSON + json.dumps({**schema, "x-guidance": COMPACT_JSON})
    content = httpx.post(f"{url}/v1/chat/completions", timeout=300, json=body).json()["choices"][0]["message"]["content"]
    if constrained:
        try:
            return str(json.loads(content)["answer"])
        except (ValueError, KeyError, TypeError):
            return content
    return content.strip()


def answer_metadata(q: dict) -> dict:
    """Questions whose answer is a number say so (metadata answer_type): the final answer is constrained to one."""
    return {"answer_type": "number"} if q["format"] == NUMBER else {}


def run_system(questions: list[dict], data_dir: Path) -> dict:
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
    env.update(WF_NATS_PORT=str(free_port()), WF_MODEL_SERVER_PORT=str(free_port()),
               WF_LOCAL_METRICS_BASE=str(free_port()))
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "workforce.local", "--data-dir", str(data_dir), "--http-port", str(http_port),
                             "--grpc-port", str(free_port())], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    out_lines, ready_s, model_url = [], None, ""
    for line in proc.stdout:
        out_lines.append(line)
        if "ready in" in line:
            ready_s = time.perf_counter() - started
        if m := re.search(r"local model server (http://[0-9.:]+)", line):
            model_url = m.group(1)
        if line.strip().startswith("try"):
            break
        if proc.poll() is not None:
            break
    if ready_s is None:
        raise SystemExit("local mode did not become ready:\n" + "".join(out_lines))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    time.sleep(3)
    idle = rss_of_tree(proc.pid)
    sampler = Sampler(proc.pid)
    sampler.start()
    api = f"http://127.0.0.1:{http_port}"
    key = (data_dir / "api-key").read_text().strip()
    http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=600)
    model = resolve().name
    rows = []
    try:
        for q in questions:
            t0 = time.perf_counter()
            if "file" in q:
                name, text = q["file"]
                r = http.post("/v1/tasks/upload", data={"question": q["question"], "answer_format": q["format"],
                                                        "metadata": json.dumps(answer_metadata(q))},
                              files=[("files", (name, text.encode()))])
            else:
                r = http.post("/v1/tasks", json={"question": q["question"], "answer_format": q["format"],
                                                "metadata": answer_metadata(q)})
            r.raise_for_status()
            task_id = r.json()["task_id"]
            events = []
            with http.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line[5:]))
            record = http.get(f"/v1/tasks/{task_id}").json()
            seconds = time.perf_counter() - t0
            answer = record.get("answer", "")
            plans = [e for e in events if e["type"] in ("plan.created", "plan.replanned")
                     or e["type"] == "plan.assigned" and "subtasks" in (e.get("data") or {})]
            direct = ask_directly(model_url, model, q)
            direct_constrained = ask_directly(model_url, model, q, constrained=True)
            rows.append({
                "id": q["id"], "status": record["status"].removeprefix("TASK_STATUS_"), "answer": answer,
                "gold": q["gold"], "correct": bool(answer) and question_scorer(answer, q["gold"]),
                "seconds": round(seconds, 1), "replans": record.get("replans", 0),
                "plans": len(plans), "plan_repairs": sum(len((e.get("data") or {}).get("repairs", [])) for e in plans),
                "plan_fallbacks": sum(1 for e in plans for r in (e.get("data") or {}).get("repairs", [])
                                      if r.startswith("fallback")),
                # fallbacks after plans that were valid but about something else (planner/parsing.py off_topic)
                "plan_off_topic_fallbacks": sum(1 for e in plans if _off_topic_fallback(e.get("data") or {})),
                "planner_failed": any(e["type"] == "planner.failed" for e in events),
                "failure_reason": record.get("failure_reason", ""),
                "tokens": sum(int(u.get("prompt_tokens", 0)) + int(u.get("completion_tokens", 0))
                              for u in (record.get("usage") or {}).values()),
                "direct_answer": direct, "direct_correct": question_scorer(direct, q["gold"]),
                "direct_constrained_answer": direct_constrained,
                "direct_constrained_correct": question_scorer(direct_constrained, q["gold"]),
            })
            print(json.dumps(rows[-1]), flush=True)
    finally:
        sampler.stop.set()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    n = len(rows)
    done = [r for r in rows if r["status"] == "SUCCEEDED" and r["answer"]]
    plans = sum(r["plans"] for r in rows)
    return {
        "ready_s": round(ready_s, 1), "rss_idle_bytes": idle, "rss_peak_bytes": max(sampler.peak, idle),
        "questions": n, "completion_rate": round(len(done) / n, 3),
        "accuracy": round(sum(r["correct"] for r in rows) / n, 3),
        "direct_accuracy": round(sum(r["direct_correct"] for r in rows) / n, 3),
        "direct_constrained_accuracy": round(sum(r["direct_constrained_correct"] for r in rows) / n, 3),
        "median_task_s": statistics.median(r["seconds"] for r in rows),
        "plans": plans,
        "plans_schema_valid": plans - sum(r["plan_fallbacks"] - r["plan_off_topic_fallbacks"] for r in rows),
        "plans_off_topic_fallbacks": sum(r["plan_off_topic_fallbacks"] for r in rows),
        "planner_failures": sum(r["planner_failed"] for r in rows), "rows": rows,
    }


def _off_topic_fallback(data: dict) -> bool:
    """A plan that fell back to one subtask because every try was valid but about something else."""
    attempts = data.get("attempts") or []
    return (any(r.startswith("fallback") for r in data.get("repairs", [])) and bool(attempts)
            and all(a.get("error", "").startswith("no subtask mentions anything of the task") for a in attempts))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", action="store_true", help="also time `make setup-run` in a fresh clone")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "local.json"))
    args = parser.parse_args()
    result = {"machine": {"cpus": os.cpu_count()}, "model": resolve().name}
    if args.setup:
        result["setup"] = measure_setup()
        print(json.dumps({"setup": result["setup"]}), flush=True)
    result["model_server"] = [model_speed(1), model_speed(2)]
    print(json.dumps(result["model_server"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="wf-local-bench-") as tmp:
        result["system"] = run_system(QUESTIONS[: args.questions], Path(tmp))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    s = result["system"]
    print(f"ready {s['ready_s']} s; RSS idle {s['rss_idle_bytes'] / 2**20:.0f} MiB, peak "
          f"{s['rss_peak_bytes'] / 2**20:.0f} MiB; completion {s['completion_rate']:.0%}; accuracy {s['accuracy']:.0%} "
          f"(model alone {s['direct_accuracy']:.0%}, constrained {s['direct_constrained_accuracy']:.0%}); median {s['median_task_s']} s/task")


if __name__ == "__main__":
    main()
