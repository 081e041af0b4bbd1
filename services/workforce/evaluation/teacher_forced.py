"""Teacher-forced static evaluation: our role services predict every step of the ToolBench static set.

For each step sample the planner sees the reference history; on `Next: caller` the caller, on
`Next: conclusion` the summarizer, sees that history plus the planner's own turn. The prediction is written
in the evaluator's form (`assistant: <plan></s>caller: <call></s>`, …). Invalid role output after the
retries is kept as written (the metrics are there to count it), not dropped; an untagged plan goes to the
caller. Unlike the authors' inference script (which names the planner turn `planner:` in the caller's
history), the caller and summarizer see the training format.
"""

import asyncio
import logging

from ..core.toollearning.generator import RoleRequest
from ..core.toollearning.messages import RoleOutputError
from ..core.toollearning.tooldocs import schema_from_toolbench

log = logging.getLogger(__name__)


def _tools(doc_list: list[dict]) -> list[dict]:
    return [
        {
            "name": d["Name"],
            "description": d.get("function", ""),
            "parameters": schema_from_toolbench(d.get("input") or {}),
        }
        for d in doc_list
    ]


async def _generate(role, request: RoleRequest) -> str:
    try:
        result = await role.generate(request)
    except RoleOutputError as exc:
        return exc.last_output.split("</s>")[0]
    if request.role == "planner":
        return result.message.text()
    return result.raw_output.split("</s>")[0].strip()


async def predict_step(roles: dict, sample: dict, family: str) -> str:
    tools, history = _tools(sample["tools"]), list(sample["history"])
    instruction = next((t["value"] for t in history if t["from"] == "user"), sample.get("instruction", ""))
    ask = dict(instruction=instruction, tools=tools, family=family)
    plan_text = await _generate(roles["planner"], RoleRequest(role="planner", history=history, **ask))
    if not any(tag in plan_text for tag in ("Next: give up", "Next: conclusion", "Next: caller")):
        plan_text += "Next: caller."  # an untagged plan goes to the caller, as in the α-UMi static evaluation
    if "Next: give up" in plan_text:
        return plan_text
    after = history + [{"from": "assistant", "value": plan_text}]
    if "Next: conclusion" in plan_text:
        answer = await _generate(roles["summarizer"], RoleRequest(role="summarizer", history=after, **ask))
        return f"assistant: {plan_text}</s>conclusion: {answer}</s>"
    call = await _generate(
        roles["caller"], RoleRequest(role="caller", history=after, thought=plan_text, **ask)
    )
    return f"assistant: {plan_text}</s>caller: {call}</s>"


async def predict_all(roles: dict, samples: list[dict], family: str, concurrency: int = 4) -> list[dict]:
    gate = asyncio.Semaphore(concurrency)
    out: list[dict | None] = [None] * len(samples)

    async def one(i: int, sample: dict) -> None:
        async with gate:
            out[i] = {
                "tools": sample["tools"],
                "history": sample["history"],
                "reference": sample["reference"],
                "predictions": await predict_step(roles, sample, family),
            }

    await asyncio.gather(*(one(i, s) for i, s in enumerate(samples)))
    return out
