"""Merge the per-worker benchmark files into bench/results/workers.json (the file the workers' issue names)."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

merged = {}
for name in ("workers_web", "workers_docs_code"):
    path = RESULTS / f"{name}.json"
    if path.exists():
        merged[name.removeprefix("workers_")] = json.loads(path.read_text())
(RESULTS / "workers.json").write_text(json.dumps(merged, indent=2) + "\n")
print(f"wrote {RESULTS / 'workers.json'} ({', '.join(merged) or 'nothing to merge'})")
