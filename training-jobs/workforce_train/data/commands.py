"""`workforce-train sft-data`, `dpo-data`, `alpha-umi-data`."""

from pathlib import Path

from ..io import iter_jsonl, read_json, write_json
from .alpha_umi import ROLES, build_role
from .alpha_umi.sources import load_stage2
from .owl.dpo import dpo_pairs, write_dpo
from .owl.sft import PLANNER_KINDS, planner_examples, write_sft


def _scored(paths: list[Path]):
    from tqdm import tqdm

    for path in paths:
        yield from tqdm(iter_jsonl(path), desc=path.name, unit="record")


def register(subparsers) -> None:
    p = subparsers.add_parser("sft-data", help="OWL planner SFT examples from scored runs")
    p.add_argument("--scored", type=Path, nargs="+", required=True, help="scored JSONL files (any datasets)")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--name", default="owl_planner_sft")
    p.add_argument("--kinds", default=",".join(PLANNER_KINDS), help="planner calls: plan,replan,answer")
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        help="keep attempts with score ≥ this instead of the scorer's verdict",
    )
    p.set_defaults(func=_sft)

    d = subparsers.add_parser("dpo-data", help="OWL planner DPO pairs from best-of-n scored runs")
    d.add_argument("--scored", type=Path, nargs="+", required=True)
    d.add_argument("--out-dir", type=Path, required=True)
    d.add_argument("--name", default="owl_planner_dpo")
    d.add_argument("--kinds", default="plan", help="planner calls to pair (default: the decomposition)")
    d.add_argument("--max-pairs-per-prompt", type=int, default=4)
    d.add_argument("--min-gap", type=float, default=None,
                   help="pair any two attempts whose scores differ by at least this (graded scores)")
    d.set_defaults(func=_dpo)

    a = subparsers.add_parser(
        "alpha-umi-data", help="α-UMi GLPFT data (backbone, planner, caller, summarizer)"
    )
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--toolbench-answers", type=Path, help="directory of ToolBench answer JSON files")
    src.add_argument("--stage1", type=Path, help="raw_data_stage_1.json")
    src.add_argument("--stage2", type=Path, help="raw_data_stage_2.json")
    src.add_argument("--runs", type=Path, help="scored run records (our trajectories)")
    a.add_argument(
        "--exclude-ids",
        type=Path,
        nargs="*",
        default=[],
        help="ToolBench test_query_ids/*.json: answers of these queries are left out",
    )
    a.add_argument("--out-dir", type=Path, required=True)
    a.add_argument("--roles", default=",".join(ROLES))
    a.add_argument(
        "--upstream-quirks",
        action="store_true",
        help="reproduce the published data byte for byte (a give-up reuses the previous prompt)",
    )
    a.set_defaults(func=_alpha_umi)


def _sft(args) -> int:
    examples = planner_examples(
        _scored(args.scored), kinds=tuple(args.kinds.split(",")), min_score=args.min_score
    )
    if not examples:
        raise ValueError("no correct trajectory with planner calls in the inputs")
    paths = write_sft(examples, args.out_dir, name=args.name)
    print(f"examples={len(examples)} " + " ".join(f"{k}={v}" for k, v in paths.items()))
    return 0


def _dpo(args) -> int:
    pairs = dpo_pairs(
        _scored(args.scored),
        kinds=tuple(args.kinds.split(",")),
        max_pairs_per_prompt=args.max_pairs_per_prompt,
        min_gap=args.min_gap,
    )
    if not pairs:
        raise ValueError("no question has both a correct and a wrong attempt with the same planner prompt")
    paths = write_dpo(pairs, args.out_dir, name=args.name)
    print(f"pairs={len(pairs)} " + " ".join(f"{k}={v}" for k, v in paths.items()))
    return 0


def _alpha_umi(args) -> int:
    from tqdm import tqdm

    excluded = {str(i) for path in args.exclude_ids for i in read_json(path)}
    items = load_stage2(
        toolbench_dir=args.toolbench_answers,
        stage1=args.stage1,
        stage2=args.stage2,
        runs=args.runs,
        exclude_ids=excluded,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.out_dir / "raw_data_stage_2.json", items)
    for role in tqdm(args.roles.split(","), desc="alpha-umi", unit="role"):
        records = build_role(role, items, upstream_quirks=args.upstream_quirks)
        write_json(args.out_dir / f"train_{role}.json", records)
        print(f"{role}={len(records)}")
    return 0
