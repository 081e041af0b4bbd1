"""The one vision-model configuration (WF_VISION_*): which OpenAI-compatible endpoint and model answer
questions about images, for worker-web (screenshots) and worker-document (images, video frames).

  WF_VISION_BASE_URL  an endpoint serving a vision-language model; empty: WF_LLM_BASE_URL
  WF_VISION_API_KEY   its key; empty: WF_LLM_API_KEY
  WF_VISION_MODEL     the model; empty: the model of the role "vision" in WF_LLM_MODELS (`vision=<model>`, the
                      older way to name it, still honoured), else WF_LLM_MODEL
Calls are made (and counted, in metrics and task usage) as the role "vision".
"""

from ..config import Settings
from .client import ChatClient

VISION_ROLE = "vision"
NOT_CONFIGURED = (
    "questions about images need a vision model: set WF_VISION_BASE_URL (an OpenAI-compatible endpoint serving "
    "a vision-language model) or WF_LLM_BASE_URL, and WF_VISION_MODEL (or WF_LLM_MODELS=vision=<model>)"
)


class VisionSettings(Settings):
    vision_base_url: str = ""
    vision_api_key: str = ""
    vision_model: str = ""


class VisionNotConfigured(ValueError):
    """No endpoint for a vision model; the message says what to set."""


def vision_settings(settings: Settings) -> Settings:
    """`settings` pointed at the vision model (WF_VISION_* on top); VisionNotConfigured without an endpoint."""
    vision = settings if isinstance(settings, VisionSettings) else VisionSettings(**settings.model_dump())
    base = vision.vision_base_url or vision.llm_base_url
    if not base:
        raise VisionNotConfigured(NOT_CONFIGURED)
    overrides = {"llm_base_url": base}
    if vision.vision_api_key:
        overrides["llm_api_key"] = vision.vision_api_key
    if vision.vision_model:
        overrides["llm_models"] = f"{VISION_ROLE}={vision.vision_model}"
    return vision.model_copy(update=overrides)


def vision_client(settings: Settings) -> ChatClient:
    """A chat client for the vision model."""
    return ChatClient(vision_settings(settings))
