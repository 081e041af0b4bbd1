"""The per-subtask tool-call budget's signal, shared by the worker runtime (which counts the calls) and the
agent loops (which end the subtask on it)."""


class ToolBudgetExceeded(Exception):
    """The subtask has made all the tool calls it may; every agent loop ends the subtask on it."""
