"""α-UMi GLPFT data: ToolBench answers or our trajectories → conversations → backbone / planner / caller /
summarizer records `{tools, history, input, target}`."""

from .conversations import conversation_from_chain, conversations_from_stage1, tool_doc_from_openai
from .glpft import ROLES, build_role, build_all

__all__ = [
    "ROLES",
    "build_all",
    "build_role",
    "conversation_from_chain",
    "conversations_from_stage1",
    "tool_doc_from_openai",
]
