"""worker-code settings (environment variables WF_CODE_*, WF_SANDBOX_URL).

The code runs in the sandbox executor (`workforce-service sandbox`, services/workforce/sandbox/), reached over
gRPC at WF_SANDBOX_URL; the limits of a run are the executor's settings (the same WF_CODE_* names: the chart
gives both the same values). The worker keeps the ones that shape its tools and what it stores."""

from typing import Literal

from ...core.config import Settings


class CodeSettings(Settings):
    sandbox_url: str = ""  # the executor: host:port, dns:///host:port (round robin) or unix:///path
    sandbox_connect_timeout_s: float = 30.0  # waiting for an executor that is (re)starting
    code_cpu_s: int = 60  # as the executor's (shown to the model)
    code_wall_s: float = 120.0  # the longest run asked for (the executor caps it with its own)
    code_memory_mb: int = 4096  # as the executor's (shown to the model)
    code_result_chars: int = 12_000  # of stdout / stderr shown to the model (head and tail)
    code_max_files: int = 20  # produced files stored per run
    code_max_file_bytes: int = 25 * 1024 * 1024  # largest produced file stored
    code_workdir_bytes: int = 40 * 1024 * 1024  # the work directory sent with a run (under the gRPC limit)
    code_network: bool = False  # as the executor's (shown to the model)
    code_shell_enabled: bool = False  # offer the run_shell tool
    # How the model writes code: "tools" = run_python tool calls (native or JSON), "blocks" = a Python code block
    # per step whose printed output is the result (code/blocks.py); "auto" = blocks where WF_LLM_TOOL_MODE=json.
    code_actions: Literal["auto", "tools", "blocks"] = "auto"

    def code_blocks(self) -> bool:
        return self.code_actions == "blocks" or (self.code_actions == "auto" and self.llm_tool_mode == "json")


def code_settings(settings: Settings) -> CodeSettings:
    if isinstance(settings, CodeSettings):
        return settings
    return CodeSettings(**settings.model_dump())
