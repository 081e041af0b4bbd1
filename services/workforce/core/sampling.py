"""Per-task settings carried in task metadata: the sampling temperature (the dataset runner's best-of-n samples
use it) and the final answer's type."""

TEMPERATURE_KEY = "temperature"
ANSWER_TYPE_KEY = "answer_type"
ANSWER_TYPES = ("text", "number", "integer", "boolean")


def answer_type_of(metadata) -> str:
    """metadata["answer_type"]: the JSON type the final answer is constrained to (default text)."""
    value = (metadata or {}).get(ANSWER_TYPE_KEY, "") or "text"
    if value not in ANSWER_TYPES:
        raise ValueError(f"answer_type must be one of {', '.join(ANSWER_TYPES)}")
    return value


def temperature_of(metadata) -> float | None:
    """The task's sampling temperature from metadata["temperature"], or None for the service default."""
    value = (metadata or {}).get(TEMPERATURE_KEY, "")
    if value == "":
        return None
    temperature = float(value)
    if not 0.0 <= temperature <= 2.0:
        raise ValueError("temperature must be between 0 and 2")
    return temperature
