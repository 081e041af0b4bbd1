"""Fault injection for the crash tests (WF_FAULT_CRASH_AFTER_COMMIT); does nothing unless that setting is set."""

import os
from pathlib import Path


def after_commit(settings, kind: str) -> None:
    """Exit at once, as kill -9 would, after committing a transition of the configured kind (once per marker)."""
    if not settings.fault_crash_after_commit:
        return
    wanted, _, marker = settings.fault_crash_after_commit.partition(":")
    if kind != wanted or (marker and Path(marker).exists()):
        return
    if marker:
        Path(marker).write_text("crashed")
    os._exit(137)
