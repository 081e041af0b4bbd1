"""The code worker's tools: run Python (and shell, when enabled) in the sandbox executor (remote.py); produced
files are stored."""

import asyncio
import os
import re
from pathlib import Path

from ..tools import Tool, ToolContext, ToolFailed
from .limits import CodeSettings
from .remote import SCRIPT, RemoteSandbox, RunResult

CODE_PARAM = {"type": "string", "minLength": 1, "maxLength": 200_000}


def _clip(data: bytes, limit: int) -> str:
    text = data.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… [{len(text) - limit} characters omitted] …\n{text[-half:]}"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            state[os.path.relpath(path, root)] = (st.st_mtime_ns, st.st_size)
    return state


# Output that reports an error instead of a result: a program that catches its own exception and prints it
# ("Error: …", "An error occurred: …", "ValueError: …", a traceback printed to stdout), or only says it failed
# ("The program failed."), exits 0 all the same.
_ERROR_REPORT = re.compile(
    r"(traceback \(most recent call last\)"
    r"|(an? )?(unexpected )?(error|exception)( occurred| was raised)?\s*[:!.]"
    r"|[A-Za-z_]*(error|exception): "
    r"|(the )?(program|code|script|calculation|computation) (failed|crashed|raised|could not))", re.IGNORECASE)


def reported_error(printed: str) -> str:
    """The line of a program's output that reports an error instead of a result ('' when there is none): its
    first or last line, as a caught exception is printed."""
    lines = [line.strip() for line in printed.strip().splitlines() if line.strip()]
    for line in lines[:1] + lines[-1:]:
        if _ERROR_REPORT.match(line):
            return line
    return ""


# Output that is not a value: an object's repr ("<function f.<locals>.<lambda> at 0x7f…>") or an f-string written
# without its f ("The total is: {result}").
_NOT_A_VALUE = re.compile(r"<(?:function|bound method|built-in function|generator object|lambda)\b(?:[^<>]|<[^<>]*>)*>"
                          r"|<[\w.]+ object at 0x[0-9a-f]+>"
                          r"|(?<![{$\\])\{[A-Za-z_]\w*(?:\.\w+)*\}(?!\})")


def not_a_value(printed: str) -> str:
    """What in a program's output is not a value ('' when it all may be): a function printed instead of called,
    a placeholder never filled in."""
    match = _NOT_A_VALUE.search(printed)
    return match.group(0) if match else ""


def run_summary(text: str, chars: int) -> str:
    """A run's rendered text as a failure reason of about `chars`: its status and the error's own line first (the
    last line of stderr: `NameError: name 'df' is not defined`), then as much of the rest's end as fits."""
    if not text.startswith("exit status: "):
        flat = " ".join(text.split())
        return flat if len(flat) <= chars else "…" + flat[-(chars - 1):]
    status, _, rest = text.partition("\n")
    stderr = rest.split("\nstderr:\n", 1)[1].split("\nfiles produced:\n", 1)[0] if "\nstderr:\n" in rest else ""
    error = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    head = f"{status}: {error[:chars // 2]}" if error else status
    flat = " ".join(rest.split())
    room = chars - len(head) - 3
    if room < 20 or not flat:
        return head[:chars]
    return f"{head} — {flat}" if len(flat) <= room else f"{head} — …{flat[-(room - 1):]}"


def run_output(text: str) -> tuple[bool, str]:
    """(whether the run ended with exit status 0 and no limit hit, what it printed), read back from the text
    CodeTools.render made of it."""
    if not text.startswith("exit status: "):
        return True, text.strip()           # a clean run is rendered as its output alone
    succeeded = text.startswith("exit status: 0 (success)\n")
    stdout = text.split("stdout:\n", 1)[1] if "stdout:\n" in text else ""
    for section in ("\nstderr:\n", "\nfiles produced:\n"):
        stdout = stdout.split(section, 1)[0]
    return succeeded, "" if stdout == "(empty)" else stdout.strip()


class CodeTools:
    def __init__(self, settings: CodeSettings, sandbox: RemoteSandbox):
        self.settings = settings
        self.sandbox = sandbox

    async def workdir(self, ctx: ToolContext) -> Path:
        """The subtask's sandbox directory (kept between its runs), with the task's files copied in."""
        path = ctx.private_dir() / "code"
        if not path.exists():
            path.mkdir(mode=0o700)
            for ref in ctx.files:
                name = Path(ref.name).name
                if name and not name.startswith(".") and ref.size <= self.settings.code_max_file_bytes * 4:
                    (path / name).write_bytes(await ctx.read_file(ref))
        return path

    async def _collect(self, ctx: ToolContext, root: Path, before: dict, uid_ok) -> list[str]:
        """Store new or changed regular files the run wrote (never following links) in the object store."""
        lines = []
        after = _snapshot(root)
        changed = [p for p, st in after.items() if before.get(p) != st and not p.startswith(SCRIPT)]
        for rel in sorted(changed)[: self.settings.code_max_files]:
            path = root / rel
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not uid_ok(st.st_uid) or not _is_regular(st.st_mode):
                    continue
                if st.st_size > self.settings.code_max_file_bytes:
                    lines.append(
                        f"- {rel}: {st.st_size} bytes, over the limit of "
                        f"{self.settings.code_max_file_bytes}; not stored"
                    )
                    continue
                data = handle.read()
            ref = await ctx.save_file(rel.replace(os.sep, "_") if "/" in rel else rel, data)
            lines.append(f"- {rel} ({len(data)} bytes, saved with the task's files as {ref.name!r})")
        if len(changed) > self.settings.code_max_files:
            lines.append(f"… {len(changed) - self.settings.code_max_files} more files not stored")
        return lines

    async def _run(self, ctx: ToolContext, language: str, code: str, timeout_s: float | None) -> str:
        root = await self.workdir(ctx)
        before = await asyncio.to_thread(_snapshot, root)
        result: RunResult = await self.sandbox.run(language, code, root, timeout_s)
        files = await self._collect(ctx, root, before, lambda uid: uid != 0 or not self.sandbox.drop_uid)
        text = self.render(result, files + [f"- {note}" for note in result.notes])
        if result.errors or result.exit_code != 0:
            raise ToolFailed(text)   # a failed call (metrics, events) that reads as the run's own report
        return text

    def render(self, result: RunResult, files: list[str]) -> str:
        limit = self.settings.code_result_chars
        if result.errors:
            status = "; ".join(result.errors)
        else:
            status = f"{result.exit_code}" + (" (success)" if result.exit_code == 0 else " (error)")
        if not result.errors and result.exit_code == 0 and not result.stderr and not files and result.stdout.strip():
            return _clip(result.stdout, limit).strip()  # a clean run: its output alone, nothing to read around
        parts = [f"exit status: {status}", f"stdout:\n{_clip(result.stdout, limit) or '(empty)'}"]
        if result.stderr:
            parts.append(f"stderr:\n{_clip(result.stderr, limit)}")
        if files:
            parts.append("files produced:\n" + "\n".join(files))
        return "\n".join(parts)

    async def run_python(self, ctx: ToolContext, code: str, timeout_s: float | None = None) -> str:
        return await self._run(ctx, "python", code, timeout_s)

    async def run_shell(self, ctx: ToolContext, command: str, timeout_s: float | None = None) -> str:
        return await self._run(ctx, "shell", command, timeout_s)

    def tools(self) -> list[Tool]:
        s = self.settings
        timeout = {"type": "number", "minimum": 1, "maximum": s.code_wall_s}
        network = "with network access" if s.code_network else "without network access"
        tools = [
            Tool(
                "run_python",
                f"Run a Python 3 program in a sandbox ({network}; numpy, pandas, sympy available) and "
                f"get its "
                f"stdout, stderr and exit status. Print what you need to see (the value of a final bare expression "
                f"is printed, as in a notebook). Files written to the current "
                f"directory are kept between runs of this subtask and returned; the task's attached "
                f"files are "
                f"there too. Limits: {s.code_cpu_s} s CPU, {s.code_wall_s:g} s wall time, "
                f"{s.code_memory_mb} MB memory.",
                {
                    "type": "object",
                    "properties": {"code": CODE_PARAM, "timeout_s": timeout},
                    "required": ["code"],
                    "additionalProperties": False,
                },
                self.run_python,
                timeout_s=s.code_wall_s + 30,
            )
        ]
        if s.code_shell_enabled:
            tools.append(
                Tool(
                    "run_shell",
                    f"Run a bash script in the same sandbox and directory as run_python ({network}).",
                    {
                        "type": "object",
                        "properties": {"command": CODE_PARAM, "timeout_s": timeout},
                        "required": ["command"],
                        "additionalProperties": False,
                    },
                    self.run_shell,
                    timeout_s=s.code_wall_s + 30,
                )
            )
        return tools


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)
