"""The work directory of one run: made from the request's files, read back into the result, then removed.

Paths from a request are checked (relative, no "..", no empty or dot-only parts); files are written without
following links. After the run, new and changed regular files are returned (never through a link, at most
WF_CODE_MAX_FILES files of at most WF_CODE_MAX_FILE_BYTES each); the rest are named in `skipped`."""

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..v1 import sandbox_pb2
from .limits import SandboxSettings

SCRIPT_PREFIX = ".wf_run"  # runner.SCRIPT: the code of a run, never returned


class BadRequest(ValueError):
    """A request the executor refuses (INVALID_ARGUMENT)."""


def check_path(path: str) -> PurePosixPath:
    pure = PurePosixPath(path)
    if (
        not path
        or "\x00" in path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
        or len(path) > 1024
    ):
        raise BadRequest(f"bad file path {path[:200]!r}: relative, '/'-separated, no '..'")
    if pure.parts[0].startswith(SCRIPT_PREFIX):
        raise BadRequest(f"bad file path {path[:200]!r}: reserved name")
    return pure


@dataclass
class Workspace:
    root: Path  # holds work/ (the run's current directory) and tmp/ (its TMPDIR without namespaces)
    before: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @classmethod
    def create(cls, settings: SandboxSettings, files) -> "Workspace":
        base = settings.sandbox_work_dir or None
        root = Path(tempfile.mkdtemp(prefix="wf-run-", dir=base))
        space = cls(root)
        try:
            space.workdir.mkdir(mode=0o700)
            for item in files:
                space._write(check_path(item.path), item.data)
            space.before = snapshot(space.workdir)
        except BaseException:
            space.remove()
            raise
        return space

    def _write(self, rel: PurePosixPath, data: bytes) -> None:
        directory = self.workdir
        for part in rel.parts[:-1]:
            directory = directory / part
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
            if directory.is_symlink() or not directory.is_dir():
                raise BadRequest(f"bad file path {str(rel)!r}: {part!r} is not a directory")
        fd = os.open(directory / rel.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def collect(self, settings: SandboxSettings, result: sandbox_pb2.SandboxRunResult) -> None:
        """New or changed regular files into result.files (capped), the rest into result.skipped."""
        after = snapshot(self.workdir)
        result.deleted.extend(sorted(set(self.before) - set(after)))
        changed = sorted(p for p, st in after.items() if self.before.get(p) != st and not _is_script(p))
        for rel in changed:
            if len(result.files) >= settings.code_max_files:
                result.skipped.append(f"{rel}: over the limit of {settings.code_max_files} files per run")
                continue
            try:
                fd = os.open(self.workdir / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError as exc:
                result.skipped.append(f"{rel}: {exc.strerror}")
                continue
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    result.skipped.append(f"{rel}: not a regular file")
                    continue
                if st.st_size > settings.code_max_file_bytes:
                    result.skipped.append(
                        f"{rel}: {st.st_size} bytes, over the limit of {settings.code_max_file_bytes}"
                    )
                    continue
                result.files.add(path=rel, data=handle.read(settings.code_max_file_bytes + 1))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():  # a run may leave directories without write permission
            for dirpath, dirnames, _ in os.walk(self.root):
                for name in dirnames:
                    with contextlib.suppress(OSError):
                        os.chmod(os.path.join(dirpath, name), 0o700, follow_symlinks=False)
            shutil.rmtree(self.root, ignore_errors=True)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path → (mtime ns, size) of every entry that is not a directory (links included, unfollowed)."""
    state = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                state[os.path.relpath(path, root).replace(os.sep, "/")] = (st.st_mtime_ns, st.st_size)
    return state


def _is_script(rel: str) -> bool:
    return rel.split("/")[0].startswith(SCRIPT_PREFIX)


def scrub(directories: str) -> None:
    """Empty each directory (what a run that shared the executor's uid may have left there)."""
    for directory in filter(None, (d.strip() for d in directories.split(","))):
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
