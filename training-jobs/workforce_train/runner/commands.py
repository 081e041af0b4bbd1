"""`workforce-train run`."""

import asyncio
import os
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a dataset through the deployed gateway",
        description="Run a JSONL dataset through the Workforce gateway; one record per "
        "attempt in OUTPUT; finished (id, sample) pairs are skipped on rerun.",
    )
    p.add_argument("--dataset", required=True, type=Path, help="JSONL (or JSON list) of questions")
    p.add_argument("--output", required=True, type=Path, help="JSONL of attempts (appended; resumable)")
    p.add_argument(
        "--gateway",
        default=os.environ.get("WF_TRAIN_GATEWAY_URL", "http://127.0.0.1:8080"),
        help="http(s)://host:port, or host:port with --protocol grpc (env WF_TRAIN_GATEWAY_URL)",
    )
    p.add_argument("--protocol", choices=("http", "grpc"), default="http")
    p.add_argument("--api-key", default=os.environ.get("WF_TRAIN_API_KEY", ""), help="env WF_TRAIN_API_KEY")
    p.add_argument("--samples", type=int, default=1, help="attempts per question (best-of-n, pass@k)")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (task metadata)")
    p.add_argument("--temperatures", default="", help="comma-separated, one per sample index (cycled): 0.3,0.7,1.0")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--retries", type=int, default=5, help="transport retries per call")
    p.add_argument(
        "--task-timeout", type=int, default=0, help="task deadline in seconds (0 = gateway default)"
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--run-id", default="", help="idempotency-key prefix (default: the output file name)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from tqdm import tqdm

    from .connect import make_gateway
    from .dataset import load_dataset
    from .run import RunConfig, run_dataset

    if args.samples < 1 or args.concurrency < 1:
        raise ValueError("--samples and --concurrency must be at least 1")
    questions = load_dataset(args.dataset, limit=args.limit)
    config = RunConfig(
        output=args.output,
        samples=args.samples,
        concurrency=args.concurrency,
        temperature=args.temperature,
        temperatures=[float(t) for t in args.temperatures.split(",") if t.strip()],
        retries=args.retries,
        task_timeout_s=args.task_timeout,
        run_id=args.run_id,
    )

    async def go():
        gateway = make_gateway(args.gateway, api_key=args.api_key, protocol=args.protocol)
        bar = tqdm(total=len(questions) * args.samples, desc="run", unit="task")
        try:
            return await run_dataset(gateway, questions, config, progress=lambda r: bar.update(1))
        finally:
            bar.close()
            await gateway.close()

    counts = asyncio.run(go())
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 1 if counts["error"] else 0
