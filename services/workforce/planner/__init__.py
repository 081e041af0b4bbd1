"""The planner: decomposes a task against the live worker registry, replans failed subtasks, writes the answer."""
