"""Per-task sampling settings carried in task metadata (the dataset runner's best-of-n samples use them)."""

TEMPERATURE_KEY = "temperature"


def temperature_of(metadata) -> float | None:
    """The task's sampling temperature from metadata["temperature"], or None for the service default."""
    value = (metadata or {}).get(TEMPERATURE_KEY, "")
    if value == "":
        return None
    temperature = float(value)
    if not 0.0 <= temperature <= 2.0:
        raise ValueError("temperature must be between 0 and 2")
    return temperature
