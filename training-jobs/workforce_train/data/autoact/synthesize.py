"""Trajectory synthesis with AutoAct's loop: the plan agent writes a thought and the action type, the
tool agent the bracket argument, the environment answers; the first Finish asks the reflect agent to
judge it (Reflect[right] ends, Reflect[wrong] tries again); a second Finish ends. Halts after
`max_steps` or when the prompt passes `max_prompt_tokens` (estimated at 4 characters a token).
Reward = HotpotQA token F1 against the gold answer; correct = exact match.

Every agent call is kept as {agent, input, output}: these are the training examples of the three roles.
"""

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

from ...io import JsonlAppender, iter_jsonl
from ...scorers.hotpotqa import exact_match, f1_precision_recall
from .env import Environment

FINISH = "Finish"


def _tools_text(tools: list[dict]) -> str:
    lines = [f"({i}) {t['usage']}" for i, t in enumerate(tools, 1)]
    lines.append(f"({len(tools) + 1}) Finish[answer], which returns the answer and finishes the task.")
    return "\n".join(lines)


def plan_prompt(tools, question, scratchpad) -> str:
    names = ", ".join([t["name"] for t in tools] + [FINISH])
    return (
        f"Solve a question answering task with interleaving Thought, Action, Observation steps.\n"
        f"Available actions:\n{_tools_text(tools)}\nYou are the plan agent: write the next Thought and "
        f'the Action type only (one of {names}), e.g. "Thought: ...\\nAction: Retrieve".\n'
        f"Question: {question}\n{scratchpad}"
    )


def tool_prompt(tools, question, scratchpad) -> str:
    return (
        f"Solve a question answering task with interleaving Thought, Action, Observation steps.\n"
        f"Available actions:\n{_tools_text(tools)}\nYou are the tool agent: write the complete Action "
        f'for the action type chosen last, e.g. "Retrieve[Arno Schmidt]".\n'
        f"Question: {question}\n{scratchpad}"
    )


def reflect_prompt(question, scratchpad) -> str:
    return (
        f"You are the reflect agent. Read the whole trajectory and judge whether the final answer is "
        f'right. Write a Thought and then "Action: Reflect[right]" or "Action: Reflect[wrong]".\n'
        f"Question: {question}\n{scratchpad}"
    )


def parse_plan(text: str) -> tuple[str, str]:
    thought = re.search(r"Thought:\s*(.*?)(?:\n|Action:|$)", text, re.S)
    action = re.search(r"Action:\s*([A-Za-z0-9_]+)", text)
    return (thought.group(1).strip() if thought else text.strip().split("\n")[0]), (
        action.group(1) if action else ""
    )


def parse_argument(text: str, action: str) -> str:
    match = re.search(rf"{re.escape(action)}\[(.*)\]", text, re.S) or re.search(r"\[(.*)\]", text, re.S)
    return (match.group(1) if match else text.strip().split("\n")[0]).strip()


class Synthesizer:
    def __init__(
        self,
        llm,
        tools: list[dict],
        *,
        temperature: float = 0.9,
        max_steps: int = 15,
        max_prompt_tokens: int = 4096,
        env_options: dict | None = None,
    ):
        self.llm, self.tools, self.temperature = llm, tools, temperature
        self.max_steps, self.max_prompt_chars = max_steps, 4 * max_prompt_tokens
        self.env_options = env_options or {}
        self.names = {t["name"] for t in tools} | {FINISH}

    async def _call(self, agent: str, prompt: str, steps: list) -> str:
        result = await self.llm.chat(
            [{"role": "user", "content": prompt}], role=f"autoact-{agent}", temperature=self.temperature
        )
        steps.append({"agent": agent, "input": prompt, "output": result.content})
        return result.content

    async def run(self, item: dict) -> dict:
        env = Environment(self.tools, context=item, **self.env_options)
        question, pad, steps, answer, finished_once, halted = (
            item["question"],
            "",
            [],
            None,
            False,
            "max_steps",
        )
        try:
            for n in range(1, self.max_steps + 1):
                if len(plan_prompt(self.tools, question, pad)) > self.max_prompt_chars:
                    halted = "context"
                    break
                thought, action = parse_plan(
                    await self._call("plan", plan_prompt(self.tools, question, pad), steps)
                )
                pad += f"Thought {n}: {thought}\nAction {n}: {action}"
                if action not in self.names:
                    pad += f"\nObservation {n}: Invalid action type {action!r}.\n"
                    continue
                argument = parse_argument(
                    await self._call("tool", tool_prompt(self.tools, question, pad), steps), action
                )
                pad += f"[{argument}]\n"
                if action == FINISH:
                    answer = argument
                    if finished_once:
                        halted = "finish"
                        break
                    finished_once = True
                    verdict = await self._call("reflect", reflect_prompt(question, pad), steps)
                    right = "reflect[right]" in verdict.lower().replace(" ", "")
                    pad += (
                        f"Reflection {n}: {parse_plan(verdict)[0]} Reflect[{'right' if right else 'wrong'}]\n"
                    )
                    if right:
                        halted = "finish"
                        break
                    continue
                pad += f"Observation {n}: {await env.act(action, argument)}\n"
        finally:
            await env.client.aclose()
        gold = str(item.get("answer", ""))
        reward = f1_precision_recall(answer or "", gold)[0] if answer is not None else 0.0
        return {
            "id": item["id"],
            "question": question,
            "gold": gold,
            "answer": answer,
            "reward": reward,
            "correct": answer is not None and exact_match(answer, gold),
            "halted": halted,
            "scratchpad": pad,
            "steps": steps,
        }


async def synthesize(
    synth: Synthesizer,
    items: list[dict],
    output: str | Path,
    *,
    concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
) -> int:
    output = Path(output)
    done = {r["id"] for r in iter_jsonl(output)} if output.exists() else set()
    todo = [i for i in items if i["id"] not in done]
    limit = asyncio.Semaphore(concurrency)
    with JsonlAppender(output) as out:

        async def one(item):
            async with limit:
                record = await synth.run(item)
            out.write(record)
            if progress:
                progress(1)

        await asyncio.gather(*(one(i) for i in todo))
    return len(todo)
