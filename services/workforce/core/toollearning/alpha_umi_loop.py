"""The α-UMi loop: planner → (caller → tool → observation)* → summarizer.

The planner writes a rationale and `Next: caller | conclusion | give up`; the caller turns it into one tool
call; the observation (cut to `observation_chars`) joins the history; the summarizer writes the answer.
A give-up, `max_turns` planner steps on one branch, or `max_tool_errors` tool failures in a row end a
branch. With `dfs_width` > 1 the loop backtracks like ToolBench's DFSDT: the parent state is planned again,
shown the actions already tried there (`alpha_umi_format.DIVERSITY_*`), up to `dfs_width` children per state.
The episode fails, with the reason, when no branch reaches a conclusion.
"""

import json
import logging
from dataclasses import dataclass, field

from ..llm.client import LLMError
from ..metrics import TOOL_CALLS
from .alpha_umi_format import DIVERSITY_HEAD, DIVERSITY_TAIL
from .generator import RoleRequest
from .messages import RoleOutputError

log = logging.getLogger(__name__)


@dataclass
class Episode:
    answer: str = ""
    failed: bool = True
    reason: str = ""
    history: list[dict] = field(default_factory=list)  # the last branch's turns ({from, value})
    steps: int = 0  # planner steps over all branches
    tool_calls: int = 0
    branches: int = 1
    usage: dict = field(default_factory=dict)  # role → [prompt_tokens, completion_tokens, requests]
    models: dict = field(default_factory=dict)  # role → {model that answered: calls}


class _DeadEnd(Exception):
    """This branch cannot go on (give-up, max turns, tool failures); the search may backtrack."""


class _Abort(Exception):
    """The episode cannot go on at all (a role keeps failing, the model backend is down)."""


@dataclass
class AlphaUmiConfig:
    family: str = "alpha-umi"
    max_turns: int = 10
    observation_chars: int = 1024
    dfs_width: int = 1
    max_tool_errors: int = 3
    temperature: float | None = None


class AlphaUmiLoop:
    def __init__(self, roles: dict, tools: list, config: AlphaUmiConfig, emit=None):
        missing = {"planner", "caller", "summarizer"} - set(roles)
        if missing:
            raise ValueError(f"the α-UMi loop needs the roles {sorted(missing)}")
        self.roles = roles
        self.tools = {t.name: t for t in tools}
        self.docs = [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools
        ]
        self.config = config
        self.emit = emit

    async def run(self, instruction: str, ctx, task_id: str = "") -> Episode:
        episode = Episode(history=[{"from": "user", "value": instruction}])
        self._task_id = task_id
        self._budget = self.config.max_turns * max(1, self.config.dfs_width)
        try:
            await self._explore(instruction, episode.history, 0, episode, ctx)
        except _DeadEnd as exc:
            episode.reason = str(exc)
        except _Abort as exc:
            episode.reason = str(exc)
        if episode.failed and episode.branches > 1:
            episode.reason += f" (after {episode.branches} branches of the search)"
        return episode

    async def _role(
        self, role: str, instruction: str, history: list[dict], episode: Episode, thought: str = ""
    ):
        request = RoleRequest(
            role=role,
            instruction=instruction,
            tools=self.docs,
            history=history,
            thought=thought,
            family=self.config.family,
            temperature=self.config.temperature,
            task_id=self._task_id,
        )
        try:
            result = await self.roles[role].generate(request)
        except RoleOutputError as exc:
            raise _Abort(f"the {role} produced no valid output: {exc}") from exc
        except (LLMError, ValueError) as exc:
            raise _Abort(f"the {role} failed: {exc}") from exc
        usage = episode.usage.setdefault(role, [0, 0, 0])
        usage[0] += result.prompt_tokens
        usage[1] += result.completion_tokens
        usage[2] += 1
        models = episode.models.setdefault(role, {})
        models[result.model] = models.get(result.model, 0) + 1
        self._last_model = result.model
        return result.message

    async def _explore(
        self, instruction: str, history: list[dict], depth: int, episode: Episode, ctx, errors: int = 0
    ) -> None:
        """Expand one state: return when the episode succeeded, raise _DeadEnd when the state is exhausted."""
        tried: list[dict] = []
        reason = ""
        for branch in range(max(1, self.config.dfs_width)):
            if branch:
                episode.branches += 1
            here = list(history)
            if tried:
                here.append(
                    {"from": "user", "value": DIVERSITY_HEAD + json.dumps(tried, indent=2) + DIVERSITY_TAIL}
                )
            try:
                await self._step(instruction, here, depth, episode, ctx, tried, errors)
                return
            except _DeadEnd as exc:
                reason = str(exc)
                if episode.steps >= self._budget and branch + 1 < self.config.dfs_width:
                    raise _Abort(
                        f"{reason}; the search budget of {self._budget} planner steps is spent"
                    ) from None
        raise _DeadEnd(reason)

    async def _step(
        self, instruction, history, depth, episode: Episode, ctx, tried: list[dict], errors: int
    ) -> None:
        if depth >= self.config.max_turns:
            raise _DeadEnd(f"max turns ({self.config.max_turns}) reached without a conclusion")
        episode.steps += 1
        plan = await self._role("planner", instruction, history, episode)
        history.append({"from": "assistant", "value": plan.text()})
        episode.history = history
        await self._event("role.planner", {"thought": plan.thought, "next": plan.next, "depth": depth,
                                           "model": self._last_model})
        if plan.next == "give up":
            raise _DeadEnd(f"the planner gave up: {plan.thought[:500]}")
        if plan.next == "conclusion":
            conclusion = await self._role("summarizer", instruction, history, episode)
            history.append({"from": "conclusion", "value": conclusion.answer})
            episode.answer, episode.failed, episode.reason = conclusion.answer, False, ""
            return
        action = await self._role("caller", instruction, history, episode, thought=plan.text())
        arguments_text = json.dumps(action.arguments, ensure_ascii=False)
        history.append({"from": "caller", "value": f"Action: {action.name}\nAction Input: {arguments_text}"})
        outcome = await self.tools[action.name].run(ctx, action.arguments)
        episode.tool_calls += 1
        TOOL_CALLS.labels("tool", action.name, "ok" if outcome.ok else "error").inc()
        observation = outcome.text[: self.config.observation_chars]
        history.append({"from": "observation", "value": observation})
        await self._event(
            "tool.call",
            {
                "tool": action.name,
                "arguments": action.arguments,
                "ok": outcome.ok,
                "observation": observation,
            },
        )
        errors = 0 if outcome.ok else errors + 1
        if errors >= self.config.max_tool_errors:
            raise _DeadEnd(f"tool calls failed {errors} times in a row; last: {outcome.text[:300]}")
        try:
            await self._explore(instruction, history, depth + 1, episode, ctx, errors)
        except _DeadEnd:
            tried.append(
                {
                    "name": action.name,
                    "arguments": arguments_text,
                    "function_output": observation,
                    "mento-carlo-action-value": 0.0,
                }
            )
            raise

    async def _event(self, kind: str, data: dict) -> None:
        if self.emit is not None:
            try:
                await self.emit(kind, data.get("tool") or data.get("next", ""), data)
            except Exception:  # events are best effort
                log.debug("event %s not recorded", kind, exc_info=True)
