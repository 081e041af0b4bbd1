"""`workforce-train submit <step> … [-- step args]`, `status`, `logs`."""

import json
import sys

from .config import JobSettings
from .render import JobSpec, render_job, to_yaml
from .steps import LAUNCHERS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "submit",
        help="run a step as a Kubernetes Job",
        description="Render a Job for STEP and create it (or print it with --dry-run). "
        "Arguments after `--` go to the step. Cluster settings come from "
        "WF_TRAIN_* variables (see workforce_train/jobs/config.py).",
    )
    p.add_argument("step")
    p.add_argument("step_args", nargs="*", help="the step's own arguments (after --)")
    p.add_argument("--gpus", type=int, default=None, help="GPUs per node (default: the step's)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--launcher", choices=LAUNCHERS, default=None)
    p.add_argument("--name", default="", help="Job name (default: wf-train-<step>-<random>)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--dry-run", action="store_true", help="print the YAML instead of creating the Job")
    p.set_defaults(func=_submit)

    s = subparsers.add_parser("status", help="a training Job's state")
    s.add_argument("name")
    s.add_argument("--namespace", default=None)
    s.set_defaults(func=_status)

    g = subparsers.add_parser("logs", help="logs of a training Job's pods")
    g.add_argument("name")
    g.add_argument("--namespace", default=None)
    g.add_argument("--tail", type=int, default=None)
    g.set_defaults(func=_logs)


def _submit(args) -> int:
    env = {}
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--env {pair!r} is not KEY=VALUE")
        env[key] = value
    spec = JobSpec(
        step=args.step,
        args=args.step_args,
        gpus=args.gpus,
        nodes=args.nodes,
        launcher=args.launcher,
        name=args.name,
        env=env,
    )
    manifests = render_job(spec, JobSettings())
    if args.dry_run:
        sys.stdout.write(to_yaml(manifests))
        return 0
    from .client import submit

    for created in submit(manifests):
        print(created)
    return 0


def _status(args) -> int:
    from .client import status

    print(json.dumps(status(args.name, args.namespace or JobSettings().namespace), indent=2))
    return 0


def _logs(args) -> int:
    from .client import logs

    for pod, text in logs(args.name, args.namespace or JobSettings().namespace, tail=args.tail).items():
        print(f"==> {pod} <==\n{text}")
    return 0
