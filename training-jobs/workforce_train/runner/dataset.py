"""Dataset files for the runner: JSONL (or a JSON list), one question per record.

Accepted field names (first present wins), so GAIA, HotpotQA and our own files load unchanged:
id: id, task_id, _id · question: question, Question · gold: answer, gold, Final answer ·
level: level, Level · files: files (paths, relative to the dataset file), file_name (GAIA) ·
answer_format: answer_format · metadata: metadata (an object; added to the task's metadata, e.g.
answer_type).
"""

from dataclasses import dataclass, field
from pathlib import Path

from ..io import DataError, read_records

_ALIASES = {
    "id": ("id", "task_id", "_id"),
    "question": ("question", "Question"),
    "gold": ("answer", "gold", "Final answer"),
    "level": ("level", "Level"),
    "answer_format": ("answer_format",),
}


@dataclass
class Question:
    id: str
    question: str
    gold: str | None = None
    level: str | None = None
    answer_format: str = ""
    files: list[Path] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _pick(record: dict, name: str):
    for key in _ALIASES[name]:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def load_dataset(path: str | Path, *, limit: int | None = None) -> list[Question]:
    path = Path(path)
    questions, seen = [], set()
    for number, record in enumerate(read_records(path), 1):
        qid, text = _pick(record, "id"), _pick(record, "question")
        if qid is None or text is None:
            raise DataError(
                f"{path}: record {number} needs an id and a question (fields: "
                f"{', '.join(_ALIASES['id'])} / {', '.join(_ALIASES['question'])})"
            )
        qid = str(qid)
        if qid in seen:
            raise DataError(f"{path}: duplicate id {qid!r} (record {number})")
        seen.add(qid)
        names = record.get("files") or ([record["file_name"]] if record.get("file_name") else [])
        files = [(path.parent / n) if not Path(n).is_absolute() else Path(n) for n in names]
        for f in files:
            if not f.is_file():
                raise DataError(f"{path}: record {qid}: attached file {f} not found")
        gold, level = _pick(record, "gold"), _pick(record, "level")
        used = {k for keys in _ALIASES.values() for k in keys} | {"files", "file_name"}
        questions.append(
            Question(
                id=qid,
                question=str(text),
                gold=None if gold is None else str(gold),
                level=None if level is None else str(level),
                answer_format=str(_pick(record, "answer_format") or ""),
                files=files,
                extra={k: v for k, v in record.items() if k not in used},
            )
        )
        if limit and len(questions) >= limit:
            break
    return questions
