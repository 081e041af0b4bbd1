"""The code worker's side of the sandbox: each run goes to the sandbox executor over gRPC (WF_SANDBOX_URL).

The worker keeps the subtask's work directory; a run sends its files (regular files only, never through links)
with the code, and writes back the new and changed files the executor returns (paths checked: an executor is
where untrusted code runs, so its answers are not trusted either) and removes the files the run deleted."""

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import grpc

from ...v1 import sandbox_pb2, sandbox_pb2_grpc
from .limits import CodeSettings

log = logging.getLogger(__name__)

SCRIPT = ".wf_run"  # the executor's name for a run's code; never sent, returned or stored
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
RETRY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


@dataclass
class RunResult:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    stdout: bytes
    stderr: bytes
    duration_s: float
    first_output_s: float | None  # start → first byte on stdout or stderr
    isolation: str  # "namespaces" or "fallback" (the executor's), "unavailable" when it could not run
    errors: list[str] = field(default_factory=list)  # limits hit, in words
    notes: list[str] = field(default_factory=list)  # produced files that were not kept, and why

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.errors


class SandboxNotConfigured(RuntimeError):
    pass


class RemoteSandbox:
    drop_uid = False  # files come back written by the worker itself

    def __init__(self, settings: CodeSettings):
        if not settings.sandbox_url:
            raise SandboxNotConfigured(
                "WF_SANDBOX_URL is not set: the code worker runs code only in the sandbox executor "
                "(`workforce-service sandbox`; local mode and the chart start one)"
            )
        self.settings = settings
        self.url = settings.sandbox_url
        self._channel: grpc.aio.Channel | None = None

    def stub(self) -> sandbox_pb2_grpc.SandboxStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.url, options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.lb_policy_name", "round_robin"),  # dns:/// names every executor pod (headless Service)
            ])
        return sandbox_pb2_grpc.SandboxStub(self._channel)

    async def run(self, language: str, source: str, workdir: Path, timeout_s: float | None = None) -> RunResult:
        timeout = min(timeout_s or self.settings.code_wall_s, self.settings.code_wall_s)
        started = time.perf_counter()
        try:
            files = await asyncio.to_thread(_read_tree, workdir, self.settings.code_workdir_bytes)
        except ValueError as exc:
            return _failed(str(exc), started)
        request = sandbox_pb2.SandboxRunRequest(language=language, source=source, timeout_s=timeout, files=files)
        # waiting for a slot or a restarting executor is bounded by the run's own deadline and then some
        deadline = time.monotonic() + timeout + self.settings.sandbox_connect_timeout_s
        delay = 0.2
        while True:
            try:
                result = await self.stub().Run(request, timeout=max(deadline - time.monotonic(), 1.0),
                                               wait_for_ready=True)
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() in RETRY and time.monotonic() + delay < deadline:
                    log.warning("sandbox executor at %s: %s; retrying", self.url, exc.details())
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                return _failed(f"the sandbox executor could not run the code: {exc.code().name}: "
                               f"{exc.details()}", started)
        notes = await asyncio.to_thread(_write_back, workdir, result)
        return RunResult(
            exit_code=result.exit_code if result.HasField("exit_code") else None,
            signal=result.signal or None,
            stdout=result.stdout,
            stderr=result.stderr,
            duration_s=result.duration_s,
            first_output_s=result.first_output_s if result.HasField("first_output_s") else None,
            isolation=result.isolation,
            errors=list(result.errors),
            notes=notes,
        )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


def _failed(message: str, started: float) -> RunResult:
    return RunResult(None, None, b"", b"", time.perf_counter() - started, None, "unavailable", [message])


def _read_tree(root: Path, limit: int) -> list[sandbox_pb2.SandboxFile]:
    """The work directory's regular files (links and other entries are not sent), at most `limit` bytes."""
    files, total = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if rel.startswith(SCRIPT):
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not _regular(st.st_mode):
                    continue
                total += st.st_size
                if total > limit:
                    raise ValueError(f"the work directory holds more than {limit} bytes: remove files "
                                     f"(WF_CODE_WORKDIR_BYTES)")
                files.append(sandbox_pb2.SandboxFile(path=rel, data=handle.read()))
    return files


def _safe_rel(path: str) -> PurePosixPath | None:
    pure = PurePosixPath(path)
    if (not path or "\x00" in path or pure.is_absolute() or any(p in ("", ".", "..") for p in path.split("/"))
            or pure.parts[0].startswith(SCRIPT)):
        return None
    return pure


def _write_back(root: Path, result: sandbox_pb2.SandboxRunResult) -> list[str]:
    """Apply the run's changes to the worker's copy; what cannot be applied is returned as notes."""
    notes = list(result.skipped)
    for rel in result.deleted:
        pure = _safe_rel(rel)
        if pure is not None:
            with contextlib.suppress(OSError):
                if not (root / pure).is_dir() or (root / pure).is_symlink():
                    os.unlink(root / pure)
    for item in result.files:
        pure = _safe_rel(item.path)
        if pure is None:
            notes.append(f"{item.path[:200]!r}: refused path")
            continue
        try:
            directory = root
            for part in pure.parts[:-1]:
                directory = directory / part
                with contextlib.suppress(FileExistsError):
                    directory.mkdir(mode=0o700)
                if directory.is_symlink() or not directory.is_dir():
                    raise OSError(f"{part} is not a directory")
            target = directory / pure.name
            if target.is_symlink() or target.is_dir():
                raise OSError("not a regular file here")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(item.data)
        except OSError as exc:
            notes.append(f"{item.path}: not kept ({exc})")
    return notes


def _regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)
