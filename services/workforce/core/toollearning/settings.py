"""Settings of the tool-learning stack (WF_ environment variables, on top of the core ones): the role models
(RoleSettings: the role services and in-process roles) and the α-UMi / AutoAct agents (ToolSettings:
worker-tool and `workforce-eval`)."""

from ..config import Settings


class RoleSettings(Settings):
    role_max_attempts: int = 3  # attempts per Generate before the output counts as invalid
    role_prompt_family: str = "chat"  # default when a request names none: chat | alpha-umi
    role_completion_api: str = (
        "completions"  # alpha-umi family: raw /v1/completions, or "chat" (one user message)
    )
    role_retry_temperature: float = 0.7  # alpha-umi family: resample at least this hot after invalid output
    role_planner_default_next: str = (
        ""  # untagged planner output: "" = invalid (retry), or caller | conclusion
    )
    role_max_tokens: int = 1024
    role_thought_max_chars: int = 2000  # chat family: maxLength of "thought" in the structured outputs


class ToolSettings(RoleSettings):
    """WF_TOOL_*: the α-UMi / AutoAct agents (worker-tool, `workforce-eval`)."""

    tool_strategy: str = "alpha-umi"  # alpha-umi | autoact
    tool_registry: str = ""  # path of the registry file (JSON or YAML), see workers/tool/registry.py
    tool_role_addrs: str = ""  # "planner=host:port,caller=…,summarizer=…"; missing roles run in-process
    tool_prompt_family: str = "alpha-umi"  # alpha-umi | chat
    tool_max_turns: int = 10
    tool_observation_chars: int = 1024
    tool_dfs_width: int = 1  # 2 = DFSDT-style backtracking after a give-up
    tool_dfs_temperature: float = 0.5  # sampling temperature while searching (the paper's 0.5)
    tool_max_tool_errors: int = 3
    tool_autoact_max_steps: int = 10
    tool_autoact_context_tokens: int = 4096
    tool_autoact_search: str = "auto"  # auto: offer Search when worker-web has a provider; on: require; off
    tool_wikipedia_url: str = "https://en.wikipedia.org/w/api.php"
    tool_http_timeout_s: float = 20.0

    def role_addrs(self) -> dict[str, str]:
        pairs = (p.partition("=") for p in self.tool_role_addrs.split(",") if p.strip())
        return {name.strip(): addr.strip() for name, _, addr in pairs}
