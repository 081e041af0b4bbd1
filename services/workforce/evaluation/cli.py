"""`workforce-eval`: ToolBench static metrics, teacher-forced predictions by our role services, HotpotQA.

  workforce-eval toolbench --input predictions.json            # prints {plan_em, action_em, hallu_rate, …}
  workforce-eval toolbench-predict --data toolbench_static_out_of_domain.json --output predictions.json \
      [--roles planner=host:port,caller=host:port,summarizer=host:port] [--family alpha-umi] [--limit N]
  workforce-eval hotpotqa --data-dir …/autoact/hotpotqa [--roles plan=…,tool=…,reflect=…] [--limit N]
Roles without an address run in-process against the WF_LLM_* backend.
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

from . import hotpotqa, toolbench
from .steps import load_step_samples


def _roles(spec: str, names: tuple[str, ...], attempts: int = 0) -> dict:
    from ..core.toollearning.role_clients import make_roles
    from ..core.toollearning.settings import ToolSettings

    overrides = {"tool_role_addrs": spec} if spec else {}
    if attempts:
        overrides["role_max_attempts"] = attempts
    settings = ToolSettings(**overrides)
    llm = None
    if set(names) - set(settings.role_addrs()):
        from ..core.llm import make_llm

        llm = make_llm(settings)
    return make_roles(settings, llm, names)


def _load_json(path: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from exc


def cmd_toolbench(args) -> dict:
    try:
        return toolbench.evaluate(_load_json(args.input))
    except ValueError as exc:
        raise SystemExit(f"invalid predictions file {args.input}: {exc}") from exc


def cmd_predict(args) -> dict:
    from .teacher_forced import predict_all

    samples = load_step_samples(args.data)[: args.limit or None]

    async def run_all() -> list[dict]:
        roles = _roles(
            args.roles, ("planner", "caller", "summarizer"), args.attempts
        )  # clients live in this event loop
        return await predict_all(roles, samples, args.family, args.concurrency)

    predictions = asyncio.run(run_all())
    Path(args.output).write_text(json.dumps(predictions, indent=1, ensure_ascii=False), encoding="utf-8")
    return {"predictions": len(predictions), "output": args.output, **toolbench.evaluate(predictions)}


def cmd_hotpotqa(args) -> dict:
    from ..core.toollearning.autoact_loop import AutoActLoop
    from ..core.toollearning.hotpotqa_tools import HotpotQASession, web_search_function
    from ..core.toollearning.settings import ToolSettings

    settings = ToolSettings()
    search = web_search_function(settings.tool_http_timeout_s) if args.search else None

    async def run_all() -> dict:
        roles = _roles(args.roles, ("plan", "tool", "reflect"))  # clients live in this event loop
        gate = asyncio.Semaphore(max(1, args.concurrency))

        async def answer(question: str) -> str:
            async with gate:
                session = HotpotQASession(
                    args.wikipedia_url or settings.tool_wikipedia_url,
                    settings.tool_http_timeout_s,
                    search=search,
                )
                loop = AutoActLoop(
                    roles,
                    session,
                    settings.tool_autoact_max_steps,
                    settings.tool_autoact_context_tokens,
                    family=args.family,
                )
                return (await loop.run(question)).answer

        report = {}
        for level in args.levels.split(","):
            questions = _load_json(str(Path(args.data_dir) / f"hotpotqa_{level}.json"))[: args.limit or None]
            answers = await asyncio.gather(*(answer(q["question"]) for q in questions))
            report[level] = hotpotqa.score(
                [(a, q["answer"]) for a, q in zip(answers, questions, strict=True)]
            )
        return report

    report = asyncio.run(run_all())
    all_pairs_n = sum(r["n"] for r in report.values())
    report["all"] = {
        "n": all_pairs_n,
        "em": sum(r["em"] * r["n"] for r in report.values()) / all_pairs_n if all_pairs_n else 0.0,
        "f1": sum(r["f1"] * r["n"] for r in report.values()) / all_pairs_n if all_pairs_n else 0.0,
    }
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workforce-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    tb = sub.add_parser("toolbench", help="metrics of a predictions file [{tools, reference, predictions}]")
    tb.add_argument("--input", required=True)
    tb.add_argument("--output", help="also write the metrics JSON here")
    tb.set_defaults(func=cmd_toolbench)
    pr = sub.add_parser("toolbench-predict", help="teacher-forced predictions by the role services")
    pr.add_argument("--data", required=True)
    pr.add_argument("--output", required=True)
    pr.add_argument("--roles", default="", help="planner=host:port,caller=…,summarizer=…")
    pr.add_argument("--family", default="alpha-umi", choices=["alpha-umi", "chat"])
    pr.add_argument("--limit", type=int, default=0)
    pr.add_argument("--concurrency", type=int, default=4)
    pr.add_argument(
        "--attempts",
        type=int,
        default=1,
        help="attempts per role call for in-process roles (1: one greedy sample, as the paper)",
    )
    pr.set_defaults(func=cmd_predict)
    hq = sub.add_parser("hotpotqa", help="AutoAct over HotpotQA; EM / F1 per level")
    hq.add_argument("--data-dir", required=True)
    hq.add_argument("--levels", default="easy,medium,hard")
    hq.add_argument("--roles", default="", help="plan=host:port,tool=…,reflect=…")
    hq.add_argument("--family", default="chat", choices=["alpha-umi", "chat"])
    hq.add_argument("--wikipedia-url", default="")
    hq.add_argument("--limit", type=int, default=0)
    hq.add_argument("--concurrency", type=int, default=4)
    hq.add_argument("--search", action="store_true", help="offer Search through worker-web's providers")
    hq.set_defaults(func=cmd_hotpotqa)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    result = args.func(args)
    text = json.dumps(result, indent=2)
    if getattr(args, "output", None) and args.command == "toolbench":
        Path(args.output).write_text(text, encoding="utf-8")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
