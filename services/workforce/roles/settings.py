"""Settings of the role services and the tool worker (WF_ environment variables, on top of the core ones)."""

from ..core.config import Settings


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
