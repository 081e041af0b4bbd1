"""worker-tool: tool learning agents (α-UMi planner / caller / summarizer, AutoAct plan / tool / reflect)
over a registry of callable tools. `spec(settings)` is what the worker runtime loads.

Configuration (WF_TOOL_*, see core/toollearning/settings.py): WF_TOOL_STRATEGY=alpha-umi|autoact; WF_TOOL_REGISTRY (a registry
file, see registry.py); WF_TOOL_ROLE_ADDRS="planner=host:port,caller=…,summarizer=…" (role services; roles
without an address run in-process on WF_LLM_*); WF_TOOL_PROMPT_FAMILY=alpha-umi|chat; WF_TOOL_MAX_TURNS=10;
WF_TOOL_OBSERVATION_CHARS=1024; WF_TOOL_DFS_WIDTH=1 (2: DFSDT-style backtracking, sampled at
WF_TOOL_DFS_TEMPERATURE=0.5); WF_TOOL_MAX_TOOL_ERRORS=3; AutoAct: WF_TOOL_AUTOACT_MAX_STEPS=10,
WF_TOOL_AUTOACT_CONTEXT_TOKENS=4096, WF_TOOL_WIKIPEDIA_URL, WF_TOOL_AUTOACT_SEARCH=auto|on|off.
"""

from ...core.config import Settings
from ..tools import WorkerSpec
from .registry import load_registry
from ...core.toollearning.settings import ToolSettings


def spec(settings: Settings) -> WorkerSpec:
    tool_settings = ToolSettings(**settings.model_dump())
    registry = load_registry(tool_settings.tool_registry)
    strategy = tool_settings.tool_strategy
    description = (
        "Answers requests by calling APIs and tools (α-UMi: a planner decides, a caller calls the "
        f"tools, a summarizer answers). Tools: {', '.join(t.name for t in registry.all()[:30])}"
        if strategy == "alpha-umi"
        else "Answers multi-hop factual questions with Wikipedia retrieval and web search (AutoAct group "
        "planning: plan, tool and reflect agents)."
    )

    def make_agent(llm, worker_spec, _settings):
        from .agent import ToolAgent

        return ToolAgent(llm, worker_spec, tool_settings)

    return WorkerSpec(
        worker_type="tool", description=description, tools=registry.all(), make_agent=make_agent
    )
