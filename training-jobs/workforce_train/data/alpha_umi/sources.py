"""Inputs of the α-UMi builders: a directory of ToolBench answer files, stage-1 / stage-2 JSON, or our
dataset-runner records (the tool worker's message histories, from its subtasks' outcome events)."""

from pathlib import Path

from ...io import DataError, read_json, read_records
from .conversations import conversation_from_worker_messages, conversations_from_stage1, stage1_from_answer


def stage1_from_toolbench_dir(directory: str | Path, *, exclude_ids: set[str] = frozenset()) -> list[dict]:
    """Every `<query_id>_*.json` answer under `directory` (recursively), minus test-set query ids."""
    out = []
    for path in sorted(Path(directory).rglob("*.json")):
        if path.name.split("_")[0] in exclude_ids:
            continue
        record = stage1_from_answer(read_json(path))
        if record is not None:
            out.append(record)
    return out


def stage2_from_runs(runs: str | Path, *, only_correct: bool = True) -> list[dict]:
    """Our trajectories: every tool-calling subtask's message history in scored (or raw) run records.
    With `only_correct`, records need `score.correct`; the subtask's own success decides give-up."""
    items = []
    for record in read_records(runs):
        if only_correct and not (record.get("score") or {}).get("correct"):
            continue
        subtasks = ((record.get("trajectory") or {}).get("subtasks") or {}).values()
        for sub in subtasks:
            messages = sub.get("messages") or []
            if not messages or not any(m.get("role") == "tool" for m in messages):
                continue
            tools = sub.get("tools") or _called_tools(messages)
            try:
                items.append(
                    conversation_from_worker_messages(messages, tools, failed=sub.get("status") == "failed")
                )
            except ValueError as exc:
                raise DataError(f"{runs}: record {record.get('id')} subtask {sub.get('id')}: {exc}") from None
    return items


def _called_tools(messages: list[dict]) -> list[dict]:
    """Tool specs when a trajectory does not carry them: the names the worker called, without docs."""
    names = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []]
    return [{"name": n} for n in dict.fromkeys(names)]


def load_stage2(
    *, toolbench_dir=None, stage1=None, stage2=None, runs=None, exclude_ids: set[str] = frozenset()
) -> list[dict]:
    if sum(x is not None for x in (toolbench_dir, stage1, stage2, runs)) != 1:
        raise ValueError("give exactly one source: ToolBench answers, stage-1, stage-2 or run records")
    if toolbench_dir is not None:
        return conversations_from_stage1(stage1_from_toolbench_dir(toolbench_dir, exclude_ids=exclude_ids))
    if stage1 is not None:
        return conversations_from_stage1(read_records(stage1))
    if stage2 is not None:
        return read_records(stage2)
    return stage2_from_runs(runs)
