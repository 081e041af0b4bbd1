"""Step samples of the ToolBench static test set, built as the α-UMi evaluation builds them.

Walking each trajectory `{tools, instruction, conversations}`: at every assistant turn that carries a
`Next:` tag, one sample; its reference is `assistant: <value></s><next role>: <next value></s>` for a
call or a conclusion and just the value for a give-up; its history is every turn before it.
"""

import json
from pathlib import Path

TAGS = ("Next: caller.", "Next: conclusion.", "Next: give up.")


def step_samples(trajectories: list[dict]) -> list[dict]:
    samples = []
    for trajectory in trajectories:
        turns = trajectory["conversations"]
        for j, turn in enumerate(turns):
            if turn["from"] != "assistant" or not any(tag in turn["value"] for tag in TAGS):
                continue
            if "Next: caller" in turn["value"] or "Next: conclusion." in turn["value"]:
                after = turns[j + 1]
                reference = f"assistant: {turn['value']}</s>{after['from']}: {after['value']}</s>"
            else:  # a give-up
                reference = turn["value"]
            samples.append(
                {
                    "tools": trajectory["tools"],
                    "instruction": trajectory.get("instruction", ""),
                    "history": turns[:j],
                    "reference": reference,
                }
            )
    return samples


def load_step_samples(path: str | Path) -> list[dict]:
    return step_samples(json.loads(Path(path).read_text(encoding="utf-8")))
