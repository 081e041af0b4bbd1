"""Typed outputs of the roles, and the error raised when a model's output cannot be used."""

from dataclasses import dataclass, field

NEXT_VALUES = ("caller", "conclusion", "give up")


@dataclass
class AlphaUmiPlannerStep:
    """The α-UMi role-planner's step (not the OWL planner service): a rationale and who acts next."""

    thought: str
    next: str  # caller | conclusion | give up

    def text(self) -> str:
        """The turn as α-UMi writes it into the history."""
        return f"{self.thought}\nNext: {self.next}." if self.thought else f"Next: {self.next}."


@dataclass
class CallerAction:
    name: str
    arguments: dict

    def text(self, arguments_text: str | None = None) -> str:
        import json

        return f"Action: {self.name}\nAction Input: {arguments_text or json.dumps(self.arguments)}"


@dataclass
class Conclusion:
    answer: str


@dataclass
class AutoActPlanStep:
    """AutoAct's plan agent: a thought and the type of the next action."""

    thought: str
    action_type: str


@dataclass
class ToolArgument:
    """AutoAct tool agent: the bracket argument of the action."""

    argument: str


@dataclass
class Reflection:
    """AutoAct reflect agent: after a Finish, is the answer right or wrong."""

    thought: str
    verdict: str  # right | wrong


class InvalidOutput(ValueError):
    """One model output that does not parse or validate; the message says why, for the retry."""


@dataclass
class RoleOutputError(Exception):
    """Every attempt of a role produced invalid output."""

    role: str
    attempts: int
    reasons: list[str] = field(default_factory=list)
    last_output: str = ""

    def __str__(self) -> str:
        return (
            f"{self.role}: no valid output after {self.attempts} attempt(s): "
            f"{self.reasons[-1] if self.reasons else 'unknown'}"
        )
