"""Resumable outputs: a finished run leaves a marker; an unfinished one resumes from its last checkpoint."""

import json
import os
import tempfile
from pathlib import Path

DONE_MARKER = "training_complete.json"


def is_complete(output_dir: str | Path) -> bool:
    return (Path(output_dir) / DONE_MARKER).is_file()


def read_marker(output_dir: str | Path) -> dict:
    return json.loads((Path(output_dir) / DONE_MARKER).read_text())


def write_marker(output_dir: str | Path, info: dict) -> None:
    """Written last, atomically: its presence means the model files beside it are whole."""
    output_dir = Path(output_dir)
    fd, tmp = tempfile.mkstemp(dir=output_dir, prefix=".marker-")
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=2, default=str)
    os.replace(tmp, output_dir / DONE_MARKER)


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest `checkpoint-N` folder the HF Trainer wrote, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(output_dir)
    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
