"""`workforce-train loop`: the OWL learning loop from one command (see pipeline.py for the stages)."""

import json
import logging
import sys
from pathlib import Path

from .config import load_config
from .pipeline import STAGES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "loop", help="the OWL learning loop: run, score, SFT + DPO the planner, serve it, run again",
        description="Run a dataset through the running system, train the planner on what ran (LoRA SFT, then "
                    "OpenRLHF DPO), export it to GGUF, make it the planner's model, run the dataset again and write "
                    "the before / after report. Finished stages are skipped on a rerun.")
    p.add_argument("--config", type=Path, required=True, help="loop.yaml")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stage", choices=STAGES, help="run this stage only (what each Job of the chain does)")
    which.add_argument("--from", dest="start", choices=STAGES, help="redo this stage and every later one")
    p.add_argument("--jobs", action="store_true", help="create the loop as a chain of Kubernetes Jobs instead")
    p.add_argument("--dry-run", action="store_true", help="with --jobs only: print the Jobs' YAML, create nothing "
                   "(the local loop has no dry run)")
    p.add_argument("--cluster-config", default="", help="with --jobs: the config's path inside the pods "
                   "(default: the same path)")
    p.set_defaults(func=_loop)


def _loop(args) -> int:
    if args.dry_run and not args.jobs:
        raise ValueError("--dry-run prints the Jobs' YAML: add --jobs (the local loop has no dry run)")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request of hundreds of tasks
    cfg = load_config(args.config)
    if args.jobs:
        from ..jobs.render import to_yaml
        from .jobs import render_chain

        gpus = {} if cfg.dpo.cpu else {"dpo": cfg.dpo.num_gpus}
        jobs = render_chain(args.cluster_config or str(args.config), cfg.work_dir, gpus=gpus)
        if args.dry_run:
            sys.stdout.write(to_yaml(jobs))
            return 0
        from ..jobs.client import submit

        for created in submit(jobs):
            print(created)
        return 0
    from .pipeline import Loop

    state = Loop(cfg).run(only=args.stage, start=args.start)
    seconds = {k: v["seconds"] for k, v in state["stages"].items()}
    print(json.dumps({"work_dir": cfg.work_dir, "stage_seconds": seconds,
                      "report": str(Path(cfg.work_dir) / "loop.json")}))
    return 0
