"""DPO pairs for the OWL planner from best-of-n sampling (default n = 4 per question, from the SFT model):
for the same planner prompt, chosen = the output in a correct attempt, rejected = the output in a wrong
one. The prompt is the planner's input messages, identical on both sides by construction.
With `min_gap` (for scores that grade rather than judge, e.g. HotpotQA F1 or cosine similarity, or a model
too weak to be right often), any two finished attempts whose scores differ by at least `min_gap` form a
pair, the higher-scoring output chosen; a failed attempt scores 0.

Outputs: OpenRLHF (`chosen` / `rejected` message lists sharing the prompt prefix, plus `margin` = the
score gap) and LLaMA-Factory's ranking format (sharegpt `conversations` + `chosen` / `rejected`).
"""

import itertools
import json
from collections import defaultdict
from pathlib import Path

from ...io import write_jsonl
from ..llamafactory import register, to_sharegpt
from .sft import is_correct, output_text


def _finished_wrong(record: dict) -> bool:
    # an attempt that failed or answered wrong; transport errors never reach scoring
    return record.get("score") is not None and not is_correct(record)


def _value(record: dict) -> float:
    return float(record["score"]["value"]) if record.get("status") == "succeeded" else 0.0


def dpo_pairs(records, *, kinds=("plan",), max_pairs_per_prompt: int = 4, min_gap: float | None = None) -> list[dict]:
    """records: scored attempts. Pairs are formed within one question and one exact prompt."""
    by_prompt: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {"good": [], "bad": [], "all": []})
    for record in records:
        if min_gap is not None:
            side = "all" if record.get("score") is not None else None
        else:
            side = "good" if is_correct(record) else "bad" if _finished_wrong(record) else None
        if side is None:
            continue
        for call in (record.get("trajectory") or {}).get("planner_calls", []):
            if call["kind"] not in kinds or not call.get("messages"):
                continue
            prompt = json.dumps(call["messages"], sort_keys=True, ensure_ascii=False)
            by_prompt[(str(record["id"]), prompt)][side].append(
                (output_text(call.get("output", "")), _value(record) if min_gap is not None
                 else float(record["score"]["value"]))
            )
    pairs = []
    for (qid, prompt), sides in by_prompt.items():
        messages = json.loads(prompt)
        if min_gap is None:
            candidates = itertools.product(dict.fromkeys(sides["good"]), dict.fromkeys(sides["bad"]))
        else:  # best first: the widest gaps make the first pairs
            ranked = sorted(dict.fromkeys(sides["all"]), key=lambda o: -o[1])
            candidates = ((a, b) for i, a in enumerate(ranked) for b in reversed(ranked[i + 1:])
                          if a[1] - b[1] >= min_gap)
        made = 0
        for (chosen, cs), (rejected, rs) in candidates:
            if chosen == rejected or made >= max_pairs_per_prompt:
                continue
            pairs.append(
                {
                    "chosen": [*messages, {"role": "assistant", "content": chosen}],
                    "rejected": [*messages, {"role": "assistant", "content": rejected}],
                    "margin": cs - rs,
                    "meta": {"id": qid},
                }
            )
            made += 1
    return pairs


def write_dpo(pairs: list[dict], out_dir: str | Path, *, name: str = "owl_planner_dpo") -> dict[str, Path]:
    out_dir = Path(out_dir)
    openrlhf_path = out_dir / f"{name}.openrlhf.jsonl"
    write_jsonl(openrlhf_path, pairs)
    ranking = []
    for pair in pairs:
        system, turns = to_sharegpt(pair["chosen"][:-1])
        ranking.append(
            {
                "conversations": turns,
                "system": system,
                "chosen": {"from": "gpt", "value": pair["chosen"][-1]["content"]},
                "rejected": {"from": "gpt", "value": pair["rejected"][-1]["content"]},
            }
        )
    lf_path = out_dir / f"{name}.llamafactory.jsonl"
    write_jsonl(lf_path, ranking)
    info = register(out_dir, name, lf_path.name, ranking=True)
    return {"openrlhf": openrlhf_path, "llamafactory": lf_path, "dataset_info": info}
