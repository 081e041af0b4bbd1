"""`workforce-train roles`: the α-UMi / AutoAct role closure from one command (see roles.py for the stages)."""

import json
import logging
from pathlib import Path

from .roles import ROLE_STAGES
from .roles_config import load_roles_config


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "roles", help="α-UMi / AutoAct roles: train, serve as LoRA adapters on one base, run the tool worker",
        description="Build the α-UMi GLPFT (backbone, then planner / caller / summarizer) or AutoAct (plan / tool / "
                    "reflect) training sets, train one LoRA adapter per role, export them to GGUF, serve them on "
                    "one base in the model server, run the tool worker's pipeline with every role on its adapter "
                    "and write roles.json. Finished stages are skipped on a rerun.")
    p.add_argument("--config", type=Path, required=True, help="roles.yaml")
    p.add_argument("--framework", choices=["alpha-umi", "autoact"],
                   help="the framework (default: the config's `framework`)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stage", choices=ROLE_STAGES, help="run this stage only")
    which.add_argument("--from", dest="start", choices=ROLE_STAGES, help="redo this stage and every later one")
    p.set_defaults(func=_roles)


def _roles(args) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cfg = load_roles_config(args.config, framework=args.framework)
    from .roles import RolesLoop

    state = RolesLoop(cfg).run(only=args.stage, start=args.start)
    seconds = {k: v["seconds"] for k, v in state["stages"].items()}
    print(json.dumps({"work_dir": cfg.work_dir, "stage_seconds": seconds,
                      "report": str(Path(cfg.work_dir) / "roles.json")}))
    return 0
