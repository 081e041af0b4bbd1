"""Pure functions over the plan DAG (PlanState.subtasks)."""

from ..v1 import channel_pb2, common_pb2

S = common_pb2

LIVE = (S.SUBTASK_STATUS_PENDING, S.SUBTASK_STATUS_DISPATCHED, S.SUBTASK_STATUS_DONE, S.SUBTASK_STATUS_FAILED)


def by_id(plan: channel_pb2.PlanState) -> dict[str, channel_pb2.Subtask]:
    return {s.subtask_id: s for s in plan.subtasks}


def ready(plan: channel_pb2.PlanState) -> list[channel_pb2.Subtask]:
    """Pending subtasks whose dependencies are all done."""
    index = by_id(plan)
    return [s for s in plan.subtasks if s.status == S.SUBTASK_STATUS_PENDING
            and all(index.get(d) is not None and index[d].status == S.SUBTASK_STATUS_DONE for d in s.dependencies)]


def awaiting_replan(plan: channel_pb2.PlanState) -> list[channel_pb2.Subtask]:
    return [s for s in plan.subtasks if s.status == S.SUBTASK_STATUS_FAILED]


def dispatched(plan: channel_pb2.PlanState) -> list[channel_pb2.Subtask]:
    return [s for s in plan.subtasks if s.status == S.SUBTASK_STATUS_DISPATCHED]


def all_done(plan: channel_pb2.PlanState) -> bool:
    live = [s for s in plan.subtasks if s.status in LIVE]
    return bool(live) and all(s.status == S.SUBTASK_STATUS_DONE for s in live)


def done(plan: channel_pb2.PlanState) -> list[channel_pb2.Subtask]:
    return [s for s in plan.subtasks if s.status == S.SUBTASK_STATUS_DONE]


def replace(plan: channel_pb2.PlanState, failed_id: str, new: list[channel_pb2.Subtask]) -> None:
    """Swap a failed subtask for its replacements; whoever depended on it now depends on all of them.

    Done subtasks stay as they are (the reference implementation threw them away)."""
    index = by_id(plan)
    failed = index[failed_id]
    failed.status = S.SUBTASK_STATUS_REPLACED
    new_ids = [s.subtask_id for s in new]
    for s in plan.subtasks:
        if failed_id in s.dependencies:
            deps = [d for d in s.dependencies if d != failed_id] + new_ids
            del s.dependencies[:]
            s.dependencies.extend(dict.fromkeys(deps))
    for s in new:
        s.failures = failed.failures
        s.replaces = failed_id
        plan.subtasks.append(s)


def dependency_results(plan: channel_pb2.PlanState, subtask: channel_pb2.Subtask, limit: int):
    """The short results of a subtask's own dependencies (context isolation: nothing else)."""
    index = by_id(plan)
    out = []
    for dep in subtask.dependencies:
        s = index.get(dep)
        if s is not None:
            result = s.result if len(s.result) <= limit else s.result[:limit] + " …[truncated]"
            out.append(channel_pb2.DependencyResult(subtask_id=s.subtask_id, content=s.content, result=result))
    return out


def files_for(plan: channel_pb2.PlanState, subtask: channel_pb2.Subtask) -> list[common_pb2.FileRef]:
    """The task's attached files and those its dependencies' workers produced (a dependency's file replaces an
    attachment of the same name: a cleaned `data.csv` is the one to read next)."""
    index = by_id(plan)
    named = {f.name: f for f in plan.files}
    for dep in subtask.dependencies:
        if dep in index:
            named.update((f.name, f) for f in index[dep].files)
    return list(named.values())
