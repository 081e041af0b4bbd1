"""Stable string ids: task ids are ULID-like (time-ordered), attempt ids are derived, never id() of an object."""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_task_id() -> str:
    """A time-ordered unique id: 10 chars of milliseconds + 16 chars of randomness."""
    return "t" + _b32(int(time.time() * 1000), 10) + _b32(int.from_bytes(os.urandom(10), "big"), 16)


def attempt_id(task_id: str, subtask_id: str, attempt: int) -> str:
    return f"{task_id}/{subtask_id}/{attempt}"


def valid_task_id(value: str) -> bool:
    return len(value) == 27 and value[0] == "t" and all(c in _ALPHABET for c in value[1:])


def instance_id(service: str) -> str:
    return f"{service}-{os.uname().nodename}-{os.getpid()}"


def created_ms(task_id: str) -> int:
    """The creation time (ms since the epoch) encoded at the start of a task id."""
    millis = 0
    for ch in task_id[1:11]:
        millis = millis * 32 + _ALPHABET.index(ch)
    return millis
