"""`workforce-train score` and `workforce-train report`."""

import json
from pathlib import Path

from ..io import iter_jsonl, write_json
from . import SCORERS, get_scorer
from .apply import latest_attempts, score_file_sync
from .report import build_report, format_report


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="score run records")
    p.add_argument("--scorer", choices=SCORERS, required=True)
    p.add_argument("--runs", type=Path, required=True, help="JSONL written by `run`")
    p.add_argument("--output", type=Path, required=True, help="scored JSONL (appended; resumable)")
    p.add_argument("--threshold", type=float, default=None, help="cosine: correct at ≥ this (default 0.7)")
    p.add_argument("--concurrency", type=int, default=8, help="judge: parallel requests")
    p.set_defaults(func=_score)

    r = subparsers.add_parser("report", help="evaluation report of scored records")
    r.add_argument("--scored", type=Path, required=True)
    r.add_argument("--price-prompt", type=float, default=0.0, help="price per 1M prompt tokens")
    r.add_argument("--price-completion", type=float, default=0.0, help="price per 1M completion tokens")
    r.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    r.set_defaults(func=_report)


def _score(args) -> int:
    from tqdm import tqdm

    options = {"concurrency": args.concurrency}
    if args.threshold is not None:
        options["threshold"] = args.threshold
    scorer = get_scorer(args.scorer, **options)
    total = len(latest_attempts(iter_jsonl(args.runs)))
    with tqdm(total=total, desc=f"score:{args.scorer}", unit="attempt") as bar:
        scored = score_file_sync(scorer, args.runs, args.output, progress=bar.update)
    print(f"scored={scored} output={args.output}")
    return 0


def _report(args) -> int:
    records = [r for r in iter_jsonl(args.scored) if r.get("score")]
    latest = {f"{r['id']}#{r.get('sample', 0)}": r for r in records}
    report = build_report(
        list(latest.values()),
        price_prompt_per_m=args.price_prompt,
        price_completion_per_m=args.price_completion,
    )
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    else:
        print(json.dumps(report))
    return 0
