"""Filtering and self-differentiation sets: keep trajectories with reward = 1 (at most `limit`), then
write one `{input, output}` set per agent (plan / tool / reflect) — trained with the prompt
`"{input}\n### Response:\n{output}"` — and LLaMA-Factory alpaca copies with dataset_info.json."""

from pathlib import Path

from ...io import iter_jsonl, read_json, write_json

AGENTS = ("plan", "tool", "reflect")
PROMPT = "{input}\n### Response:\n{output}"


def filter_trajectories(path, *, limit: int = 200) -> list[dict]:
    kept = [r for r in iter_jsonl(path) if r.get("reward", 0.0) >= 1.0 - 1e-9 and r.get("answer") is not None]
    return kept[:limit]


def split_by_agent(trajectories: list[dict]) -> dict[str, list[dict]]:
    sets = {agent: [] for agent in AGENTS}
    for t in trajectories:
        for step in t["steps"]:
            sets[step["agent"]].append({"input": step["input"], "output": step["output"]})
    return sets


def write_sets(
    sets: dict[str, list[dict]], out_dir: str | Path, *, prefix: str = "autoact"
) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {}
    info_path = out_dir / "dataset_info.json"
    info = read_json(info_path) if info_path.exists() else {}
    for agent, records in sets.items():
        paths[agent] = out_dir / f"data_{agent}.json"
        write_json(paths[agent], records)
        lf = out_dir / f"{prefix}_{agent}.alpaca.json"
        write_json(lf, [{"instruction": r["input"], "input": "", "output": r["output"]} for r in records])
        info[f"{prefix}_{agent}"] = {"file_name": lf.name}
    write_json(info_path, info)
    paths["dataset_info"] = info_path
    return paths
