"""SFT data for the OWL planner: from scored run records keep the correct attempts and emit one example
per planner call (input: the planner's messages; output: what it wrote).

Correct means the scorer's verdict (`score.correct`, i.e. the dataset's threshold: GAIA / table exact
match, HotpotQA EM, cosine ≥ 0.7, judge), or `score.value >= min_score` when a threshold is given here.
Identical (messages, output) pairs — the same call in several samples — are written once.
"""

import json
from pathlib import Path

from ...io import write_jsonl
from ..llamafactory import register, to_sharegpt

PLANNER_KINDS = ("plan", "replan", "answer")


def is_correct(record: dict, min_score: float | None = None) -> bool:
    score = record.get("score")
    if not score or record.get("status") != "succeeded":
        return False
    return float(score["value"]) >= min_score if min_score is not None else bool(score["correct"])


def output_text(output) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def planner_examples(records, *, kinds=PLANNER_KINDS, min_score: float | None = None) -> list[dict]:
    examples, seen = [], set()
    for record in records:
        if not is_correct(record, min_score):
            continue
        for call in (record.get("trajectory") or {}).get("planner_calls", []):
            if call["kind"] not in kinds or not call.get("messages"):
                continue
            output = output_text(call.get("output", ""))
            key = json.dumps([call["messages"], output], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            examples.append(
                {
                    "messages": [*call["messages"], {"role": "assistant", "content": output}],
                    "meta": {
                        "id": record["id"],
                        "sample": record.get("sample", 0),
                        "kind": call["kind"],
                        "score": record["score"]["value"],
                    },
                }
            )
    return examples


def write_sft(examples: list[dict], out_dir: str | Path, *, name: str = "owl_planner_sft") -> dict[str, Path]:
    """`<name>.jsonl` (OpenAI messages), `<name>.llamafactory.json` + `dataset_info.json`."""
    out_dir = Path(out_dir)
    openai_path = out_dir / f"{name}.jsonl"
    write_jsonl(openai_path, examples)
    shared = []
    for ex in examples:
        system, turns = to_sharegpt(ex["messages"])
        shared.append({"conversations": turns, "system": system})
    lf_path = out_dir / f"{name}.llamafactory.jsonl"
    write_jsonl(lf_path, shared)
    info = register(out_dir, name, lf_path.name)
    return {"openai": openai_path, "llamafactory": lf_path, "dataset_info": info}
