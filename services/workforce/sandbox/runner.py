"""Run untrusted Python or shell code under limits, isolated as netns.py describes (inside the executor).

One run: a fresh process group — `[unshare …] python -S boot.py CONFIG` — in the run's work directory.
boot.py makes the private mounts (namespaces), sets CPU, address-space, file-size, process and descriptor
limits, drops to the run's uid, loads the seccomp filter (syscall_filter.py) and runs the code; the
environment is scrubbed, output is capped, and after the wall-clock deadline the whole group (with namespaces:
the whole pid namespace) is killed. When runs share the executor's uid (no namespaces, not root), the executor
is the child subreaper of everything a run starts, and every process below it is killed when the run ends.
"""

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import boot, netns, syscall_filter
from .limits import SandboxSettings

log = logging.getLogger(__name__)

SCRIPT = ".wf_run"  # the code of a run, written into the work directory and removed afterwards
BOOT = str(Path(boot.__file__).resolve())
SITE_DIRS = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
INTERPRETER_DIRS = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, *SITE_DIRS)})
PR_SET_CHILD_SUBREAPER = 36
UNSHARE_SIGNAL = b"unshare: sigprocmask unblock failed"  # util-linux 2.38 when its child died of a signal


class SandboxUnavailable(RuntimeError):
    """Isolation that the configuration requires is not available on this platform."""


@dataclass
class RunResult:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    stdout: bytes
    stderr: bytes
    duration_s: float
    first_output_s: float | None  # start → first byte on stdout or stderr
    isolation: str  # "namespaces" or "fallback"
    errors: list[str] = field(default_factory=list)  # limits hit, in words

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.errors


class UidPool:
    """Unprivileged uids for the concurrent runs of one worker process (RLIMIT_NPROC counts each alone).

    One pool per process, in a block of 64 uids chosen at random above WF_CODE_UID_BASE, so that worker
    processes on one host (pods on one node share the host's uids) are unlikely to share uids."""

    SIZE = 64
    BLOCKS = 1000
    _pools: dict[int, "UidPool"] = {}

    def __init__(self, base: int):
        self.base = base + secrets.randbelow(self.BLOCKS) * self.SIZE
        self.free = list(range(self.base, self.base + self.SIZE))

    @classmethod
    def for_base(cls, base: int) -> "UidPool":
        if base not in cls._pools:
            cls._pools[base] = cls(base)
        return cls._pools[base]

    def take(self) -> int:
        if not self.free:
            raise RuntimeError("too many concurrent sandbox runs in this worker")
        return self.free.pop(0)

    def give(self, uid: int) -> None:
        self.free.append(uid)


class Sandbox:
    def __init__(self, settings: SandboxSettings):
        self.settings = settings
        mode = settings.code_isolation
        if mode not in ("auto", "namespaces", "none"):
            raise ValueError(f"WF_CODE_ISOLATION must be auto, namespaces or none, not {mode!r}")
        available, why = (
            (False, "disabled by WF_CODE_ISOLATION=none")
            if mode == "none"
            else netns.namespaces_available(not settings.code_network)
        )
        if mode == "namespaces" and not available:
            raise SandboxUnavailable(f"WF_CODE_ISOLATION=namespaces but namespaces are not available: {why}")
        if not available and mode == "auto":
            log.warning(
                "code sandbox: Linux namespaces unavailable (%s); using the fallback isolation "
                "(limits, own uid if root, the seccomp filter). See sandbox/netns.py.",
                why,
            )
        self.namespaces = available
        # Directories of this Python that an unprivileged uid cannot reach (e.g. a pyenv under /root).
        self.hidden = [d for d in INTERPRETER_DIRS if boot._blocking_ancestor(d)]
        # An interpreter under a directory the sandbox covers with its own tmpfs must be bound back in.
        self.covered = [d for d in INTERPRETER_DIRS if _under_private_mount(d) and d not in self.hidden]
        self.drop_uid = netns.can_drop_uid() and (self.namespaces or not self.hidden)
        if netns.can_drop_uid() and not self.drop_uid:
            log.warning(
                "code sandbox: %s is not reachable by other users and namespaces are off: runs keep the "
                "executor's uid (root). Install Python where others may read it, or allow namespaces.",
                self.hidden,
            )
        self.uids = UidPool.for_base(settings.code_uid_base)
        filter_mode = settings.sandbox_syscall_filter
        if filter_mode not in ("auto", "on", "off"):
            raise ValueError(f"WF_SANDBOX_SYSCALL_FILTER must be auto, on or off, not {filter_mode!r}")
        works, why = (False, "WF_SANDBOX_SYSCALL_FILTER=off") if filter_mode == "off" else syscall_filter.available()
        if filter_mode == "on" and not works:
            raise SandboxUnavailable(f"WF_SANDBOX_SYSCALL_FILTER=on but the filter cannot be built: {why}")
        if not works and filter_mode == "auto":
            log.warning("code sandbox: no seccomp filter (%s)%s", why,
                        "" if self.namespaces else ": without namespaces a subprocess can reach the network")
        self.syscall_filter = works
        if not self.drop_uid and not self.namespaces:
            become_subreaper()  # what a run daemonises stays below us, to be killed when it ends
        self.concurrency = settings.sandbox_concurrency or (4 if self.drop_uid else 1)
        if not self.drop_uid and self.concurrency > 1:
            log.warning("code sandbox: %d runs at once share the executor's uid: they can see each other's "
                        "files and processes", self.concurrency)

    @property
    def isolation(self) -> str:
        return "namespaces" if self.namespaces else "fallback"

    def _limits(self) -> dict:
        s = self.settings
        mb = 1024 * 1024
        nproc = s.code_nproc if self.drop_uid else s.code_nproc + _tasks_of_uid(os.getuid())
        # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL a second later
        return {
            "RLIMIT_CPU": [s.code_cpu_s, s.code_cpu_s + 1],
            "RLIMIT_AS": [s.code_memory_mb * mb] * 2,
            "RLIMIT_FSIZE": [s.code_file_mb * mb] * 2,
            "RLIMIT_NPROC": [nproc] * 2,
            "RLIMIT_NOFILE": [s.code_nofile] * 2,
            "RLIMIT_CORE": [0, 0],
        }

    def _env(self, tmpdir: str) -> dict:
        venv_bin = str(Path(sys.executable).parent)
        return {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMEXPR_MAX_THREADS": "1",
            "TMPDIR": tmpdir,
        }

    def command(self, language: str, workdir: Path, script: str, uid: int | None) -> list[str]:
        config = {
            "workdir": str(workdir),
            "language": language,
            "script": script,
            "limits": self._limits(),
            "uid": uid,
            "mounts": self.namespaces,
            "tmpfs_mb": self.settings.code_tmpfs_mb,
            "site": SITE_DIRS,
            "expose": (self.hidden if uid is not None else []) + self.covered,
            "block_network": not self.namespaces and not self.settings.code_network,
            "syscall_filter": self.syscall_filter,
            "network": self.settings.code_network,
            "protect": sorted({os.getpid(), os.getpgrp(), os.getppid()} - {0, 1}),
        }
        prefix = netns.namespace_prefix(self.settings.code_network) if self.namespaces else []
        return prefix + [sys.executable, "-S", "-E", "-B", BOOT, json.dumps(config)]

    async def run(
        self, language: str, source: str, workdir: Path, timeout_s: float | None = None
    ) -> RunResult:
        """Run `source` (python or shell) in `workdir`, which persists between runs of one subtask."""
        if language not in ("python", "shell"):
            raise ValueError(f"unknown language {language!r}")
        timeout = min(timeout_s or self.settings.code_wall_s, self.settings.code_wall_s)
        script = f"{SCRIPT}.{'py' if language == 'python' else 'sh'}"
        (workdir / script).write_text(source, encoding="utf-8")
        uid = self.uids.take() if self.drop_uid else None
        # processes below us that are not this run's (a library user's own children): never killed
        spared = set() if uid is not None or self.namespaces else set(_descendants(os.getpid()))
        if not self.namespaces:  # TMPDIR of a run without a private /tmp: next to its work directory
            (workdir.parent / "tmp").mkdir(mode=0o700, exist_ok=True)
            if uid is not None:
                os.lchown(workdir.parent / "tmp", uid, uid)
        try:
            if uid is not None:
                _chown_tree(workdir, uid)
                if not self.namespaces:  # the run's uid must reach its directory (not list the parent)
                    os.chmod(workdir.parent, os.stat(workdir.parent).st_mode | 0o011)
            return await self._execute(self.command(language, workdir, script, uid), workdir, timeout, uid,
                                       spared)
        finally:
            with contextlib.suppress(OSError):
                (workdir / script).unlink()
            if uid is not None:
                await _reap_uid(uid)  # no process of this run may outlive it, nor share its uid with the next
                self.uids.give(uid)
            elif not self.namespaces:
                await reap_descendants(spared)  # the run shared our uid: everything it left below us goes

    def _kill_run(self, pid: int, uid: int | None, spared: set[int]) -> None:
        _kill_group(pid)  # with namespaces: unshare, and the whole pid namespace with it
        if uid is not None:
            _kill_uid(uid)
        elif not self.namespaces:
            _kill_descendants(spared)

    async def _execute(self, argv, workdir: Path, timeout: float, uid, spared: set[int]) -> RunResult:
        started = time.perf_counter()
        tmpdir = "/tmp" if self.namespaces else str(workdir.parent / "tmp")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env=self._env(tmpdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        state = {"first": None, "total": 0, "over": False}
        cap = self.settings.code_output_bytes
        out, err = bytearray(), bytearray()

        async def pump(stream: asyncio.StreamReader, buffer: bytearray):
            while chunk := await stream.read(65536):
                if state["first"] is None:
                    state["first"] = time.perf_counter() - started
                buffer += chunk[: max(cap - state["total"], 0)]
                state["total"] += len(chunk)
                if state["total"] > cap and not state["over"]:
                    state["over"] = True
                    self._kill_run(proc.pid, uid, spared)

        pumps = asyncio.gather(pump(proc.stdout, out), pump(proc.stderr, err))
        errors: list[str] = []
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            # every process of the run, not only its group: one that left it may hold the pipes, and asyncio's
            # wait() returns only once they are closed
            self._kill_run(proc.pid, uid, spared)
            errors.append(f"wall-time limit of {timeout:g} s exceeded: the run was killed")
            await proc.wait()
        except asyncio.CancelledError:
            self._kill_run(proc.pid, uid, spared)
            raise
        finally:
            if uid is not None:
                _kill_uid(uid)
            elif not self.namespaces:
                _kill_descendants(spared)
        try:  # descendants that escaped the group may hold the pipes open (fallback only): stop waiting
            await asyncio.wait_for(pumps, 2.0)
        except asyncio.TimeoutError:
            pumps.cancel()
        code = proc.returncode
        sig = -code if code is not None and code < 0 else None
        if state["over"]:
            errors.append(f"output limit of {cap} bytes exceeded: the run was stopped")
        elif sig == signal.SIGXCPU or (code == boot.CPU_EXIT and boot.CPU_MARKER.strip() in err):
            errors.append(f"CPU-time limit of {self.settings.code_cpu_s} s exceeded: the run was killed")
        elif sig is not None and not errors:
            errors.append(f"killed by signal {signal.Signals(sig).name} (a CPU or memory limit of the host?)")
        elif UNSHARE_SIGNAL in err and not errors:
            errors.append(
                "killed by a signal (the CPU-time or file-size limit, or a memory limit of the host?)"
            )
        return RunResult(
            exit_code=None if sig else code,
            signal=sig,
            stdout=bytes(out),
            stderr=bytes(err),
            duration_s=time.perf_counter() - started,
            first_output_s=state["first"],
            isolation=self.isolation,
            errors=errors,
        )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids


def _kill_uid(uid: int) -> None:
    for pid in _pids_of_uid(uid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


async def _reap_uid(uid: int, timeout: float = 5.0) -> None:
    """Kill every process of the run's uid and wait until they are gone (a pid namespace dies in a moment)."""
    deadline = time.monotonic() + timeout
    while _pids_of_uid(uid):
        _kill_uid(uid)
        if time.monotonic() > deadline:
            log.error("sandbox uid %d still has processes after %.0f s", uid, timeout)
            return
        await asyncio.sleep(0.02)


def _descendants(root: int, spared: set[int] = frozenset()) -> list[int]:
    """Every process below `root` (the executor, the subreaper of its runs' orphans), except the subtrees of
    the `spared` ones."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    stat = handle.read()
                parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in spared]
        found += children
        frontier = children
    return found


def become_subreaper() -> None:
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _kill_descendants(spared: set[int] = frozenset()) -> list[int]:
    pids = _descendants(os.getpid(), spared)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids


async def reap_descendants(spared: set[int] = frozenset(), timeout: float = 5.0) -> None:
    """Kill every process below the executor and reap the orphans it inherited as their subreaper (the
    direct children asyncio started are reaped by asyncio)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _kill_descendants(spared)
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        if not pids:
            return
        if time.monotonic() > deadline:
            log.error("sandbox: %d processes below the executor survive after %.0f s", len(pids), timeout)
            return
        await asyncio.sleep(0.02)


def _tasks_of_uid(uid: int) -> int:
    """Processes and threads of a uid: what RLIMIT_NPROC counts (for a worker that cannot switch uid)."""
    total = 0
    for pid in _pids_of_uid(uid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/task"))
    return total


def _chown_tree(root: Path, uid: int) -> None:
    """Hand the work directory to the run's uid, never through links (a planted symlink must not redirect)."""
    os.lchown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(dirpath, name), uid, uid)


def _under_private_mount(path: str) -> bool:
    return any(path == m or path.startswith(m + "/") for m in ("/tmp", "/var/tmp", "/dev/shm"))
