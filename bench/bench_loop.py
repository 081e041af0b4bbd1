"""The OWL learning loop on the local system, on its default model → bench/results/loop.json.

Starts `python -m workforce.local` (the code worker by default), runs `workforce-train loop` on the numeric
questions of bench/local_questions.py (GAIA scorer, best-of-n at two temperatures), and writes the loop's
report: before / after accuracy, pass@n, plan validity, replans, tokens per task, which model served the planner,
and every stage's time. A small model on a few questions: the figures show the loop working and what each stage
costs, not that training helped.

Run: .venv/bin/python bench/bench_loop.py [--questions 8] [--samples 2] [--workers code] [--sft-steps 20]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services"), str(ROOT / "training-jobs")]
from bench.local_questions import NUMBER, QUESTIONS  # noqa: E402
from tests.realmodel.conftest import LocalSystem  # noqa: E402

RESULT = ROOT / "bench" / "results" / "loop.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--workers", default="code")
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    chosen = [q for q in QUESTIONS if "file" not in q and q["format"] == NUMBER][: args.questions]
    (tmp / "questions.jsonl").write_text("".join(json.dumps({
        "id": q["id"], "question": q["question"], "answer": q["gold"], "answer_format": q["format"],
        "metadata": {"answer_type": "number"}}) + "\n" for q in chosen))
    started = time.monotonic()
    local = LocalSystem(tmp / "local", args=("--workers", args.workers))
    ready_s = time.monotonic() - started
    try:
        config = {
            "work_dir": "out",
            "gateway": {"url": f"http://127.0.0.1:{local.http_port}", "api_key_file": "local/api-key"},
            "dataset": {"path": "questions.jsonl"},
            "run": {"samples": args.samples, "temperatures": [0.2, 1.0], "concurrency": 2},
            "score": {"scorer": "gaia"},
            "sft": {"max_steps": args.sft_steps, "learning_rate": 2.0e-4, "max_length": 2048},
            "dpo": {"learning_rate": 5.0e-5, "batch_size": 4, "max_len": 2048},
            "export": {"name": "owl-planner-bench"},
            "serve": {"kind": "local", "data_dir": "local"},
            "report": {"path": str(RESULT)},
        }
        (tmp / "loop.yaml").write_text(json.dumps(config))
        run = subprocess.run([sys.executable, "-m", "workforce_train.cli", "loop", "--config", str(tmp / "loop.yaml")],
                             cwd=tmp, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[:3])})
        if run.returncode:
            raise SystemExit(f"the loop failed ({run.returncode}); work folder {tmp}")
        report = json.loads(RESULT.read_text())
        report["bench"] = {"local_ready_s": round(ready_s, 1), "workers": args.workers,
                           "questions": [q["id"] for q in chosen], "cpus": os.cpu_count(),
                           "load_average_at_end": os.getloadavg()}
        RESULT.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: report[k] for k in ("before", "after", "stage_seconds")}, indent=2))
    finally:
        local.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
