"""worker-code settings (environment variables WF_CODE_*): what one sandboxed run may use."""

from ...core.config import Settings


class CodeSettings(Settings):
    code_cpu_s: int = 60  # CPU seconds (RLIMIT_CPU); SIGXCPU, then SIGKILL one second later
    code_wall_s: float = 120.0  # wall-clock seconds; the whole process group is killed after it
    code_memory_mb: int = 4096  # address space (RLIMIT_AS) per process
    code_file_mb: int = 256  # largest file a run may write (RLIMIT_FSIZE)
    code_nproc: int = 64  # processes + threads of the sandbox user (RLIMIT_NPROC)
    code_nofile: int = 256  # open file descriptors (RLIMIT_NOFILE)
    code_output_bytes: int = 1024 * 1024  # stdout + stderr captured; the run is stopped past it
    code_result_chars: int = 12_000  # of stdout / stderr shown to the model (head and tail)
    code_tmpfs_mb: int = 256  # the private /tmp of a run (namespace isolation only)
    code_max_files: int = 20  # produced files stored per run
    code_max_file_bytes: int = 25 * 1024 * 1024  # largest produced file stored
    code_network: bool = False  # allow network access from the sandbox
    code_shell_enabled: bool = False  # offer the run_shell tool
    # auto: Linux namespaces (network, pid, mount) when the platform allows, else the fallback (see netns.py);
    # namespaces: refuse to run code without them; none: always the fallback.
    code_isolation: str = "auto"
    code_uid_base: int = 61_000  # sandbox users when the worker runs as root: base + slot


def code_settings(settings: Settings) -> CodeSettings:
    if isinstance(settings, CodeSettings):
        return settings
    return CodeSettings(**settings.model_dump())
