"""AutoAct group planning: the plan agent (thought + action type), the tool agent (the bracket argument)
and the reflect agent (after a Finish), with the paper's episode rules:

- the first Finish records the answer and asks for reflection ("Please reflect your answer.");
- Reflect[right] or a second Finish ends the episode; Reflect[wrong] asks to solve the question again;
- Reflect anywhere else and Lookup not after Retrieve / Search are invalid actions (an observation says so);
- the episode halts after `max_steps` steps or when a prompt passes `context_tokens` tokens.
"""

import logging
from dataclasses import dataclass, field

from ..llm.client import LLMError
from ..tool_budget import ToolBudgetExceeded
from .generator import RoleRequest
from .messages import RoleOutputError
from .hotpotqa_tools import HotpotQASession, ToolUnavailable

log = logging.getLogger(__name__)


@dataclass
class AutoActEpisode:
    answer: str = ""
    finished: bool = False
    failed: bool = True
    reason: str = ""
    history: list[dict] = field(default_factory=list)  # thought / action / observation turns
    steps: int = 0
    models: dict = field(default_factory=dict)  # role → {model that answered: calls}


class AutoActLoop:
    def __init__(
        self,
        roles: dict,
        session: HotpotQASession,
        max_steps: int = 10,
        context_tokens: int = 4096,
        family: str = "chat",
        temperature: float | None = None,
        spend=None,
    ):
        self.spend = spend or (lambda action: None)   # counts an action against the subtask's tool budget
        missing = {"plan", "tool", "reflect"} - set(roles)
        if missing:
            raise ValueError(f"AutoAct needs the roles {sorted(missing)}")
        self.roles, self.session = roles, session
        self.max_steps, self.context_tokens = max_steps, context_tokens
        self.family, self.temperature = family, temperature
        self.tools = session.tools()

    async def _ask(self, role: str, question: str, history: list[dict], task_id: str):
        result = await self.roles[role].generate(
            RoleRequest(
                role=role,
                instruction=question,
                tools=self.tools,
                history=history,
                family=self.family,
                temperature=self.temperature,
                task_id=task_id,
            )
        )
        self._prompt_tokens = result.prompt_tokens
        models = self._models.setdefault(role, {})
        models[result.model] = models.get(result.model, 0) + 1
        return result.message

    async def run(self, question: str, task_id: str = "") -> AutoActEpisode:
        episode, last = AutoActEpisode(), ""
        h = episode.history
        self._prompt_tokens = 0
        self._models = episode.models
        try:
            while episode.steps < self.max_steps and not episode.finished:
                if self._prompt_tokens > self.context_tokens:
                    episode.reason = f"halted: the prompt passed {self.context_tokens} tokens"
                    break
                episode.steps += 1
                if last == "Finish":
                    reflection = await self._ask("reflect", question, h, task_id)
                    h += [
                        {"from": "thought", "value": reflection.thought},
                        {"from": "action", "value": f"Reflect[{reflection.verdict}]"},
                    ]
                    if reflection.verdict == "right":
                        episode.finished = True
                        break
                    h.append(
                        {
                            "from": "observation",
                            "value": "The answer maybe wrong, please try to solve the question again.",
                        }
                    )
                    last = "Reflect"
                    continue
                plan = await self._ask("plan", question, h, task_id)
                h.append({"from": "thought", "value": plan.thought})
                if plan.action_type == "Reflect":
                    h += [
                        {"from": "action", "value": "Reflect[]"},
                        {
                            "from": "observation",
                            "value": "Invalid action. Reflect only follows the Finish action.",
                        },
                    ]
                    continue
                argument = (
                    await self._ask(
                        "tool", question, h + [{"from": "action", "value": plan.action_type}], task_id
                    )
                ).argument
                h.append({"from": "action", "value": f"{plan.action_type}[{argument}]"})
                if plan.action_type == "Finish":
                    first = episode.answer == ""
                    episode.answer = argument
                    if not first:
                        episode.finished = True
                        break
                    h.append({"from": "observation", "value": "Please reflect your answer."})
                else:
                    h.append(
                        {"from": "observation", "value": await self._act(plan.action_type, argument, last)}
                    )
                if plan.action_type != "Lookup":
                    last = plan.action_type
        except (RoleOutputError, LLMError, ValueError, ToolBudgetExceeded) as exc:
            episode.reason = f"AutoAct stopped: {exc}"
            return episode
        if episode.finished:
            episode.failed, episode.reason = False, ""
        elif not episode.reason:
            episode.reason = f"halted after {self.max_steps} steps without a confirmed answer"
        if episode.failed and episode.answer:
            episode.reason += f" (last answer: {episode.answer})"
        return episode

    async def _act(self, action_type: str, argument: str, last: str) -> str:
        if action_type in ("Retrieve", "Search", "Lookup"):
            self.spend(action_type)
        try:
            if action_type == "Retrieve":
                return await self.session.retrieve(argument)
            if action_type == "Search":
                return await self.session.web_search(argument)
            if action_type == "Lookup":
                if last not in ("Retrieve", "Search"):
                    return "Lookup must follow Retrieve or Search."
                return self.session.lookup(argument)
        except ToolUnavailable as exc:
            return str(exc)
        except Exception as exc:  # a tool error is an observation for the agents
            return f"{action_type} error, please try again ({type(exc).__name__}: {exc})"
        names = ", ".join(f"{t['name']}[...]" for t in self.tools)
        return f"Invalid Action. Valid Actions are {names}, Finish[<answer>] and Reflect[right/wrong]."
