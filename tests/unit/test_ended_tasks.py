"""The worker's memory of ended tasks stays bounded: the oldest ids are forgotten first."""

from workforce.workers.ended import EndedTasks


def test_bounded_oldest_forgotten_first():
    ended = EndedTasks(limit=3)
    for task_id in ("a", "b", "c"):
        ended.add(task_id)
    ended.add("a")          # heard again: now the newest
    ended.add("d")
    assert len(ended) == 3 and "b" not in ended
    assert all(t in ended for t in ("a", "c", "d"))
