"""JSON / JSONL files written so that an interrupted step loses nothing and can resume.

Appends go line by line with a flush and fsync, so a killed process leaves at most one partial last
line, which `read_jsonl` skips (with a warning) and `JsonlAppender` truncates before appending again.
Whole files are written to a temporary name and renamed into place.
"""

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class DataError(ValueError):
    """An input file is malformed; the message names the file and line."""


def read_json(path: str | Path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON: {exc}") from None


def iter_jsonl(path: str | Path, *, strict: bool = True) -> Iterator[dict]:
    """Records of a JSONL file. A malformed line raises DataError (strict), except an unterminated last
    line, which is what an interrupted writer leaves and is skipped."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as f:
        lines = f.read().split(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no trailing newline: a partial write
                log.warning("%s:%d: skipping a partial last line", path, number)
                continue
            if strict:
                raise DataError(f"{path}:{number}: invalid JSON: {exc}") from None
            log.warning("%s:%d: skipping invalid JSON", path, number)
            continue
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        yield record


def read_jsonl(path: str | Path, *, strict: bool = True) -> list[dict]:
    return list(iter_jsonl(path, strict=strict))


def read_records(path: str | Path) -> list[dict]:
    """A JSON list or a JSONL file, by content."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else None
    if text is None:
        raise DataError(f"{path}: file not found")
    if text.lstrip().startswith("["):
        data = read_json(path)
        if not all(isinstance(r, dict) for r in data):
            raise DataError(f"{path}: expected a list of JSON objects")
        return data
    return read_jsonl(path)


class JsonlAppender:
    """Appends records to a JSONL file durably; repairs a partial last line left by a crash."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self._file = self.path.open("a", encoding="utf-8")

    def _repair(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropping a partial last line (%d bytes)", self.path, len(data) - cut)
        with self.path.open("r+b") as f:
            f.truncate(cut)

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_atomic(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data, *, indent: int | None = 2) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    write_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)
