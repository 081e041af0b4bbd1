"""Sandbox executor settings: what one run may use (WF_CODE_*, the names the code worker documents) and how
the executor serves runs (WF_SANDBOX_*)."""

from ..core.config import Settings


class SandboxSettings(Settings):
    code_cpu_s: int = 60  # CPU seconds (RLIMIT_CPU); SIGXCPU, then SIGKILL one second later
    code_wall_s: float = 120.0  # wall-clock seconds; the whole process group is killed after it
    code_memory_mb: int = 4096  # address space (RLIMIT_AS) per process
    code_file_mb: int = 256  # largest file a run may write (RLIMIT_FSIZE)
    code_nproc: int = 64  # processes + threads of the sandbox user (RLIMIT_NPROC)
    code_nofile: int = 256  # open file descriptors (RLIMIT_NOFILE)
    code_output_bytes: int = 1024 * 1024  # stdout + stderr captured; the run is stopped past it
    code_tmpfs_mb: int = 256  # the private /tmp of a run (namespace isolation only)
    code_max_files: int = 20  # new or changed files returned per run
    code_max_file_bytes: int = 25 * 1024 * 1024  # largest file returned
    code_network: bool = False  # allow network access from the sandbox (no syscall filter on sockets then)
    # auto: Linux namespaces (network, pid, mount) when the platform allows, else the fallback (see netns.py);
    # namespaces: refuse to run code without them; none: always the fallback.
    code_isolation: str = "auto"
    code_uid_base: int = 61_000  # sandbox users when the executor runs as root: base + slot
    # The seccomp filter of every run (syscall_filter.py): no sockets, no ptrace, no new namespaces, no
    # signals to the executor. "auto": on where the kernel and libseccomp allow, "on": refuse to run without.
    sandbox_syscall_filter: str = "auto"
    # Runs at once. 0: 4 when each run gets its own uid (a root executor), else 1 (runs sharing the
    # executor's uid are serialized, so no run can see another's files or processes).
    sandbox_concurrency: int = 0
    sandbox_queue_timeout_s: float = 300.0  # a run waiting longer for a slot is refused (RESOURCE_EXHAUSTED)
    sandbox_max_request_bytes: int = 48 * 1024 * 1024  # files + source of one request
    sandbox_work_dir: str = ""  # where work directories are made (default: the system temp directory)
    # Directories emptied after every run when runs share the executor's uid (the chart: /dev/shm), besides
    # the work directory of the run, which is always removed.
    sandbox_scrub_dirs: str = ""
