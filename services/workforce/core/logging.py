"""Logs with the task id on every line about a task, as text or one JSON object per line (WF_LOG_FORMAT).

The task (and subtask) a coroutine works on is a context variable set by `task_context`; a filter copies
it onto every record, so a line logged deep in a library call still names its task.
"""

import contextlib
import contextvars
import json
import logging
import sys
import time

_TASK = contextvars.ContextVar("wf_task_id", default="")
_SUBTASK = contextvars.ContextVar("wf_subtask_id", default="")
_SERVICE = {"name": ""}


@contextlib.contextmanager
def task_context(task_id: str, subtask_id: str = ""):
    tokens = (_TASK.set(task_id or ""), _SUBTASK.set(subtask_id or ""))
    try:
        yield
    finally:
        _SUBTASK.reset(tokens[1])
        _TASK.reset(tokens[0])


class TaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "task_id", ""):
            record.task_id = _TASK.get()
        if not getattr(record, "subtask_id", ""):
            record.subtask_id = _SUBTASK.get()
        record.service = _SERVICE["name"]
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("task_id", "subtask_id", "attempt_id"):
            if getattr(record, key, ""):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        task = getattr(record, "task_id", "")
        sub = getattr(record, "subtask_id", "")
        where = f" [{task}{'/' + sub if sub else ''}]" if task else ""
        line = f"{when} {record.levelname:<7} {getattr(record, 'service', '')}{where} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO", fmt: str = "text", service: str = "") -> None:
    _SERVICE["name"] = service
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TaskFilter())
    handler.setFormatter(JsonFormatter() if fmt.lower() == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "openai", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
