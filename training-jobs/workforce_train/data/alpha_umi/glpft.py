"""α-UMi conversations → GLPFT training records `{tools, history, input, target}` for each role.

- backbone: one model does everything; target = thought + the call (`Action: …`) or `conclusion: …`;
- planner: target = the planner turn (thought + `Next: …`);
- caller: target = `Action: NAME\nAction Input: {…}`, prompted with the planner's thought;
- summarizer: target = the conclusion.
History strings join `role: value</s>`; observations carry no `</s>` (as in the published data).

`upstream_quirks=True` reproduces the published ToolBench data byte for byte, including one bug of the
authors' preprocessing: a backbone give-up record reuses the prompt of the record before it instead of
the current history. Leave it off for new data.
"""

import json

from .prompts import HALLUCINATED, NEXT_CALLER, NEXT_CONCLUSION, NEXT_GIVE_UP, SPEAKER, TEMPLATES

ROLES = ("backbone", "planner", "caller", "summarizer")


def _template(role: str, tools: list[dict]) -> str:
    doc = "".join(json.dumps(t) + "\n" for t in tools)
    names = ", ".join(t["Name"] for t in tools)
    return TEMPLATES[role].replace("{doc}", doc).replace("{tool_names}", names)


def _turn(history: str, speaker: str, value: str) -> str:
    # observations are not closed with </s> in α-UMi's history format
    return history + f"{speaker}: {value}" + ("" if speaker == "observation" else "</s>")


def _record(item: dict, i: int, prompt: str, target: str) -> dict:
    return {"tools": item["tools"], "history": item["conversations"][:i], "input": prompt, "target": target}


class _Backbone:
    def __init__(self, upstream_quirks: bool):
        self.quirks = upstream_quirks
        self.last_prompt: str | None = None  # persists across items, like the upstream script

    def __call__(self, item: dict) -> list[dict]:
        template, turns, history, out = _template("backbone", item["tools"]), item["conversations"], "", []
        for i, turn in enumerate(turns):
            speaker, value = turn["from"], turn["value"]
            if speaker == "assistant":
                after = turns[i + 1]["from"] if i + 1 < len(turns) else None
                prompt = template.replace("{history}", history) + SPEAKER["backbone"]
                if NEXT_GIVE_UP in value:
                    span = value.replace(NEXT_GIVE_UP, "").strip() + "\nconclusion: give up."
                    if self.quirks:
                        if self.last_prompt is None:
                            raise ValueError("upstream_quirks: a give-up before any other backbone record")
                        prompt = self.last_prompt
                    out.append(_record(item, i, prompt, span))
                elif after == "caller":
                    span = value.replace(NEXT_CALLER, "").strip() + "\n" + turns[i + 1]["value"]
                    out.append(_record(item, i, prompt, span))
                    self.last_prompt = prompt
                elif after == "conclusion":
                    span = (
                        value.replace(NEXT_CONCLUSION, "").strip() + "\nconclusion: " + turns[i + 1]["value"]
                    )
                    out.append(_record(item, i, prompt, span))
                    self.last_prompt = prompt
                else:
                    span = value
                history = _turn(history, "assistant", span)
            elif speaker in ("user", "observation"):
                history = _turn(history, speaker, value)
        return out


def _planner(item: dict) -> list[dict]:
    template, turns, history, out = _template("planner", item["tools"]), item["conversations"], "", []
    for i, turn in enumerate(turns):
        speaker, value = turn["from"], turn["value"]
        if speaker == "assistant":
            after = turns[i + 1] if i + 1 < len(turns) else None
            decides = NEXT_GIVE_UP in value or (
                after is not None and after["from"] in ("caller", "conclusion")
            )
            hallucinated = after is not None and after["from"] == "caller" and HALLUCINATED in after["value"]
            if decides and not hallucinated:
                out.append(
                    _record(item, i, template.replace("{history}", history) + SPEAKER["planner"], value)
                )
        if speaker in ("assistant", "user", "observation", "caller", "conclusion"):
            history = _turn(history, speaker, value)
    return out


def _caller(item: dict) -> list[dict]:
    template, turns, history, out = _template("caller", item["tools"]), item["conversations"], "", []
    for i, turn in enumerate(turns):
        speaker, value = turn["from"], turn["value"]
        if speaker == "caller":
            if HALLUCINATED in value:
                continue  # neither a target nor part of the later history
            thought = turns[i - 1]["value"]
            prompt = template.replace("{history}", history).replace("{thought}", thought) + SPEAKER["caller"]
            out.append(_record(item, i, prompt, value))
        if speaker in ("assistant", "user", "observation", "caller", "conclusion"):
            history = _turn(history, speaker, value)
    return out


def _summarizer(item: dict) -> list[dict]:
    template, turns, history, out = _template("summarizer", item["tools"]), item["conversations"], "", []
    for i, turn in enumerate(turns):
        speaker, value = turn["from"], turn["value"]
        if speaker == "conclusion":
            if value == "none":
                continue  # no answer to learn from
            out.append(
                _record(item, i, template.replace("{history}", history) + SPEAKER["summarizer"], value)
            )
        if speaker in ("assistant", "user", "observation", "caller", "conclusion"):
            history = _turn(history, speaker, value)
    return out


def build_role(role: str, items: list[dict], *, upstream_quirks: bool = False) -> list[dict]:
    """All records of one role from stage-2 items `{tools, instruction, conversations}`."""
    if role not in ROLES:
        raise ValueError(f"unknown α-UMi role {role!r}; expected one of {', '.join(ROLES)}")
    build = {
        "backbone": _Backbone(upstream_quirks),
        "planner": _planner,
        "caller": _caller,
        "summarizer": _summarizer,
    }[role]
    return [record for item in items for record in build(item)]


def build_all(items: list[dict], *, upstream_quirks: bool = False) -> dict[str, list[dict]]:
    return {role: build_role(role, items, upstream_quirks=upstream_quirks) for role in ROLES}
