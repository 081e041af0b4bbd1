"""`workforce-train autoact-self-instruct | autoact-select-tools | autoact-synthesize | autoact-filter`."""

import asyncio
import os
from pathlib import Path

from ...io import read_records, write_json
from ...runner.dataset import load_dataset


def register(subparsers) -> None:
    s = subparsers.add_parser("autoact-self-instruct", help="generate QA pairs from seed examples")
    s.add_argument("--seeds", type=Path, required=True, help="e.g. self-instruct-seeds/Meta_Hotpotqa.json")
    s.add_argument("--output", type=Path, required=True, help="JSONL (appended; resumable)")
    s.add_argument("--total", type=int, default=800)
    s.add_argument("--per-round", type=int, default=10)
    s.add_argument("--task", default="Multi-hop question answering over Wikipedia (HotpotQA).")
    s.add_argument("--temperature", type=float, default=0.9)
    s.set_defaults(func=_self_instruct)

    t = subparsers.add_parser("autoact-select-tools", help="select the task's tools from the library")
    t.add_argument("--library", type=Path, required=True, help="e.g. tools/HotpotQA_Tools.json")
    t.add_argument("--examples", type=Path, required=True, help="questions of the task (JSON/JSONL)")
    t.add_argument("--task", default="Multi-hop question answering over Wikipedia (HotpotQA).")
    t.add_argument("--output", type=Path, required=True)
    t.set_defaults(func=_select)

    y = subparsers.add_parser("autoact-synthesize", help="synthesize trajectories with the AutoAct loop")
    y.add_argument("--questions", type=Path, required=True)
    y.add_argument("--tools", type=Path, required=True, help="the selected tools (autoact-select-tools)")
    y.add_argument("--output", type=Path, required=True, help="JSONL (appended; resumable)")
    y.add_argument("--temperature", type=float, default=0.9)
    y.add_argument("--max-steps", type=int, default=15)
    y.add_argument("--concurrency", type=int, default=4)
    y.add_argument("--wiki-url", default=os.environ.get("WF_TRAIN_WIKI_URL", "https://en.wikipedia.org"))
    y.add_argument(
        "--bing-url", default=os.environ.get("WF_TRAIN_BING_URL", "https://api.bing.microsoft.com")
    )
    y.set_defaults(func=_synthesize)

    f = subparsers.add_parser("autoact-filter", help="keep reward = 1 and split into plan / tool / reflect")
    f.add_argument("--trajectories", type=Path, required=True)
    f.add_argument("--out-dir", type=Path, required=True)
    f.add_argument("--limit", type=int, default=200)
    f.set_defaults(func=_filter)


def _self_instruct(args) -> int:
    from tqdm import tqdm

    from .llm import default_llm
    from .self_instruct import load_seeds, self_instruct

    seeds = load_seeds(args.seeds)
    with tqdm(total=args.total, desc="self-instruct", unit="pair") as bar:
        count = asyncio.run(
            self_instruct(
                default_llm(),
                seeds,
                args.output,
                total=args.total,
                task=args.task,
                per_round=args.per_round,
                temperature=args.temperature,
                progress=bar.update,
            )
        )
    print(f"pairs={count} output={args.output}")
    return 0 if count >= args.total else 1


def _select(args) -> int:
    from .llm import default_llm
    from .tool_select import load_library, select_tools

    examples = [{"question": r.get("question") or r.get("Question", "")} for r in read_records(args.examples)]
    chosen = asyncio.run(select_tools(default_llm(), args.task, load_library(args.library), examples))
    write_json(args.output, chosen)
    print("selected=" + ",".join(t["name"] for t in chosen))
    return 0


def _synthesize(args) -> int:
    from tqdm import tqdm

    from .llm import default_llm
    from .synthesize import Synthesizer, synthesize

    items = [
        {"id": q.id, "question": q.question, "answer": q.gold or "", **q.extra}
        for q in load_dataset(args.questions)
    ]
    synth = Synthesizer(
        default_llm(),
        read_records(args.tools),
        temperature=args.temperature,
        max_steps=args.max_steps,
        env_options={
            "wiki_url": args.wiki_url,
            "bing_url": args.bing_url,
            "bing_key": os.environ.get("WF_TRAIN_BING_KEY", ""),
        },
    )
    with tqdm(total=len(items), desc="synthesize", unit="question") as bar:
        ran = asyncio.run(
            synthesize(synth, items, args.output, concurrency=args.concurrency, progress=bar.update)
        )
    print(f"synthesized={ran} output={args.output}")
    return 0


def _filter(args) -> int:
    from .split import filter_trajectories, split_by_agent, write_sets

    kept = filter_trajectories(args.trajectories, limit=args.limit)
    if not kept:
        raise ValueError(f"{args.trajectories}: no trajectory with reward = 1")
    paths = write_sets(split_by_agent(kept), args.out_dir)
    print(f"trajectories={len(kept)} " + " ".join(f"{k}={v}" for k, v in paths.items()))
    return 0
