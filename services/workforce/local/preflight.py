"""Before `make run` starts anything: is there a model to run with? One clear line if not."""

import os
from pathlib import Path

from ..core.config import Settings

HOW_TO = ("point it at a local model directory with WF_EMBEDDED_MODEL=/path/to/model "
          "or at an OpenAI-compatible endpoint with WF_LLM_BASE_URL=http://host:port/v1 (and WF_LLM_MODEL=name)")


def model_problem(settings: Settings) -> str | None:
    """None when a model is available; otherwise the one line that says what to do."""
    if settings.llm_base_url:
        return None
    name = settings.embedded_model
    if Path(name).is_dir():
        if not (Path(name) / "config.json").exists():
            return f"{name} is not a model directory (no config.json): {HOW_TO}"
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return f"the embedded model needs the `embedded` extra (transformers); or {HOW_TO}"
    cached = try_to_load_from_cache(name, "config.json")
    if isinstance(cached, str) and os.path.exists(cached):
        return None
    return f"the default model {name} is not on this machine and cannot be downloaded here: {HOW_TO}"
