"""A submission: what a client asks for (HTTP, gRPC and the OpenAI route alike), its checks before anything is
written, and whether a task an idempotency key already names was made by the same request."""

import hashlib
import mimetypes
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.sampling import ANSWER_TYPES, TEMPERATURE_KEY, answer_type_of, temperature_of
from ..v1 import common_pb2
from .errors import InvalidInput, TooLarge
from .limits import check_text, shown

MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_TOKEN_BUDGET = 10**12


def file_name(name: str) -> str:
    """A file's name as the workers see it: without any folders ('../../etc/passwd' → 'passwd')."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def media_type_of(name: str, media_type: str) -> str:
    """The media type a file is stored with: as sent, else guessed from its name."""
    return media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass
class Submission:
    question: str
    answer_format: str = ""
    idempotency_key: str = ""
    files: list[tuple[str, bytes, str]] = field(default_factory=list)   # (name, data, media type)
    metadata: dict[str, str] = field(default_factory=dict)
    timeout_s: int = 0
    review_plan: bool = False        # hold the plan for a person's approval before it runs
    review_replans: bool = False     # … and every replan
    token_budget: int = 0            # tokens the task may use; 0 = the server default (WF_TASK_TOKEN_BUDGET)


def validate(sub: Submission, s: Settings) -> None:
    """InvalidInput or TooLarge (naming the field at fault as `param`) for a submission that must not be written."""
    if not sub.question or not sub.question.strip():
        raise InvalidInput("question is empty", param="question")
    check_text("question", sub.question)
    check_text("answer_format", sub.answer_format)
    check_text("idempotency_key", sub.idempotency_key, multiline=False)
    for k, v in sub.metadata.items():
        check_text("metadata key", k, multiline=False, param="metadata")
        check_text(f"metadata[{k!r}]", v, param="metadata")
    if len(sub.question) > s.max_question_chars:
        raise TooLarge(f"question has {len(sub.question)} characters; the limit is {s.max_question_chars}",
                       param="question")
    if len(sub.answer_format) > s.max_answer_format_chars:
        raise TooLarge(f"answer_format is longer than {s.max_answer_format_chars} characters", param="answer_format")
    if len(sub.idempotency_key) > s.max_idempotency_key_chars:
        raise InvalidInput(f"idempotency_key is longer than {s.max_idempotency_key_chars} characters",
                           param="idempotency_key")
    if len(sub.metadata) > s.max_metadata_entries or any(
            len(k) > 100 or len(v) > 1000 for k, v in sub.metadata.items()):
        raise InvalidInput(f"metadata: at most {s.max_metadata_entries} entries, keys ≤ 100 and values ≤ 1000 "
                           "chars", param="metadata")
    _check_settings(sub.metadata)
    if not 0 <= sub.token_budget <= MAX_TOKEN_BUDGET:
        raise InvalidInput("token_budget must be between 0 (server default) and 10^12", param="token_budget")
    if not 0 <= sub.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout_s must be between 0 (server default) and {MAX_TIMEOUT_S}", param="timeout_s")
    _check_files(sub.files, s)


def _check_settings(metadata: dict[str, str]) -> None:
    """The settings the services read from metadata (core/sampling.py)."""
    try:
        temperature_of(metadata)
    except ValueError:
        raise InvalidInput(f"metadata.temperature must be a number from 0 to 2 (e.g. \"0.7\"), not "
                           f"{shown(metadata[TEMPERATURE_KEY])}", param="metadata.temperature") from None
    try:
        answer_type_of(metadata)
    except ValueError:
        raise InvalidInput(f"metadata.answer_type must be one of {', '.join(ANSWER_TYPES)}",
                           param="metadata.answer_type") from None


def _check_files(files: list[tuple[str, bytes, str]], s: Settings) -> None:
    if len(files) > s.max_files:
        raise TooLarge(f"{len(files)} files; at most {s.max_files} per task", param="files")
    names: set[str] = set()
    for name, data, media_type in files:
        if not name or len(name) > 255:
            raise InvalidInput("every file needs a name of at most 255 characters", param="files")
        check_text("file name", name, multiline=False, param="files")
        check_text("media type", media_type, multiline=False, param="files")
        if len(data) > s.max_file_bytes:
            raise TooLarge(f"file {name!r} has {len(data)} bytes; the limit is {s.max_file_bytes}", param="files")
        if file_name(name) in ("", ".", ".."):
            raise InvalidInput(f"file name {name!r} names no file", param="files")
        if file_name(name) in names:   # the workers know a task's files by name: one would hide the other
            raise InvalidInput(f"two files are named {file_name(name)!r}; give each file its own name", param="files")
        names.add(file_name(name))


def differs(record: common_pb2.TaskRecord, sub: Submission, s: Settings) -> str | None:
    """The first field in which `sub` asks for another task than `record` is (None: the same request again).
    Defaults are compared as applied: timeout_s 0 and the server's default timeout are the same request. A record
    without a deadline (a submit cut short before it was set) is not compared on it."""
    timeout = sub.timeout_s or s.task_timeout_s
    ran_for = record.deadline.seconds - record.created_at.seconds
    files = [(file_name(n), hashlib.sha256(d).hexdigest(), media_type_of(file_name(n), t)) for n, d, t in sub.files]
    checks = (
        ("question", record.question == sub.question),
        ("answer_format", record.answer_format == sub.answer_format),
        ("metadata", dict(record.metadata) == sub.metadata),
        # a record written before deadlines counted from created_at may be a second later
        ("timeout_s", not record.HasField("deadline") or ran_for in (timeout, timeout + 1)),
        ("review_plan", record.review_plan == sub.review_plan),
        ("review_replans", record.review_replans == sub.review_replans),
        ("token_budget", record.token_budget == (sub.token_budget or s.task_token_budget)),
        ("files", [(f.name, f.sha256, f.media_type) for f in record.files] == files),
    )
    return next((name for name, same in checks if not same), None)
