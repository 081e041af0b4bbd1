"""worker-tool's agent: the α-UMi loop (default) or AutoAct group planning (core/toollearning), over role
services or in-process roles."""

import logging

from ...core.toollearning.alpha_umi_loop import AlphaUmiConfig, AlphaUmiLoop
from ...core.toollearning.autoact_loop import AutoActLoop
from ...core.toollearning.hotpotqa_tools import HotpotQASession, web_search_function
from ...core.toollearning.role_clients import make_roles
from ...core.toollearning.settings import ToolSettings
from ..agent import AgentOutcome
from ..prompts import subtask_prompt
from ..tools import ToolBudgetExceeded

log = logging.getLogger(__name__)
STRATEGY_ROLES = {"alpha-umi": ("planner", "caller", "summarizer"), "autoact": ("plan", "tool", "reflect")}


class ToolAgent:
    def __init__(self, llm, spec, settings: ToolSettings):
        if settings.tool_strategy not in STRATEGY_ROLES:
            raise ValueError(f"WF_TOOL_STRATEGY must be one of {', '.join(STRATEGY_ROLES)}")
        self.spec, self.settings = spec, settings
        self._search = None
        if settings.tool_strategy == "autoact" and settings.tool_autoact_search != "off":
            self._search = web_search_function(settings.tool_http_timeout_s)
            if self._search is None and settings.tool_autoact_search == "on":
                raise ValueError(
                    "WF_TOOL_AUTOACT_SEARCH=on but no web search provider is configured for worker-web "
                    "(set WF_WEB_BRAVE_API_KEY, WF_WEB_SERPAPI_API_KEY, WF_WEB_TAVILY_API_KEY or "
                    "WF_WEB_GOOGLE_API_KEY)"
                )
        self.roles = make_roles(settings, llm, STRATEGY_ROLES[settings.tool_strategy])

    async def run(self, item, ctx) -> AgentOutcome:
        if self.settings.tool_strategy == "autoact":
            return await self._autoact(item, ctx)
        return await self._alpha_umi(item, ctx)

    async def _alpha_umi(self, item, ctx) -> AgentOutcome:
        s = self.settings
        if not self.spec.tools:
            return AgentOutcome("worker-tool has no tools: set WF_TOOL_REGISTRY to a registry file", True)
        config = AlphaUmiConfig(
            family=s.tool_prompt_family,
            max_turns=s.tool_max_turns,
            observation_chars=s.tool_observation_chars,
            dfs_width=s.tool_dfs_width,
            max_tool_errors=s.tool_max_tool_errors,
            temperature=s.tool_dfs_temperature if s.tool_dfs_width > 1 else None,
        )
        loop = AlphaUmiLoop(self.roles, self.spec.tools, config, emit=ctx.emit)
        try:
            episode = await loop.run(subtask_prompt(item), ctx, task_id=item.task_id)
        except ToolBudgetExceeded as exc:
            return AgentOutcome(f"failed: {exc}", True, tool_calls=len(ctx.tool_history))
        await _record_models(ctx, episode.models)
        content = episode.answer if not episode.failed else f"failed: {episode.reason}"
        outcome = AgentOutcome(
            content,
            episode.failed,
            tool_calls=episode.tool_calls,
            messages=[{"role": t["from"], "content": t["value"]} for t in episode.history],
        )
        _usage(outcome, episode.usage)
        return outcome

    async def _autoact(self, item, ctx) -> AgentOutcome:
        s = self.settings
        session = HotpotQASession(s.tool_wikipedia_url, s.tool_http_timeout_s, search=self._search)
        loop = AutoActLoop(
            self.roles,
            session,
            s.tool_autoact_max_steps,
            s.tool_autoact_context_tokens,
            family=s.tool_prompt_family,
            spend=lambda action: _spend(ctx, action),
        )
        episode = await loop.run(subtask_prompt(item), task_id=item.task_id)
        await _record_models(ctx, episode.models)
        content = episode.answer if not episode.failed else f"failed: {episode.reason}"
        calls = sum(1 for t in episode.history if t["from"] == "action")
        return AgentOutcome(
            content,
            episode.failed,
            tool_calls=calls,
            messages=[{"role": t["from"], "content": t["value"]} for t in episode.history],
        )


async def _record_models(ctx, models: dict) -> None:
    """Which model (LoRA adapter) answered each role, into the task's events: what the trajectory ran on."""
    try:
        await ctx.emit("tool.models", ", ".join(f"{r}={'/'.join(m)}" for r, m in models.items()),
                       {"models": models})
    except Exception:  # events are best effort
        log.debug("tool.models not recorded", exc_info=True)


def _spend(ctx, action: str) -> None:
    ctx.spend_tool_call(action)
    ctx.tool_history.append((action, "", ""))


def _usage(outcome: AgentOutcome, usage: dict) -> None:
    from ...v1 import common_pb2

    for role, (prompt, completion, requests) in usage.items():
        slot = outcome.usage.by_role.setdefault(f"tool:{role}", common_pb2.Usage())
        slot.prompt_tokens += prompt
        slot.completion_tokens += completion
        slot.requests += requests
