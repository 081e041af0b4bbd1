"""The one vision-model configuration (core/llm/vision.py), as worker-web and worker-document read it."""

import pytest

from workforce.core.config import Settings
from workforce.core.llm.vision import VISION_ROLE, VisionNotConfigured, vision_client


def _model(client) -> str:
    return client.settings.llm_models


def test_vision_settings_come_from_wf_vision(monkeypatch):
    monkeypatch.setenv("WF_VISION_BASE_URL", "http://vl.local/v1")
    monkeypatch.setenv("WF_VISION_API_KEY", "k")
    monkeypatch.setenv("WF_VISION_MODEL", "qwen-vl")
    client = vision_client(Settings(llm_base_url="http://text.local/v1", llm_models="planner=p"))
    assert client.settings.llm_base_url == "http://vl.local/v1"
    assert client.settings.llm_api_key == "k"
    assert client.settings.model_for(VISION_ROLE) == "qwen-vl"


def test_the_llm_endpoint_and_the_vision_role_are_the_default(monkeypatch):
    for name in ("WF_VISION_BASE_URL", "WF_VISION_API_KEY", "WF_VISION_MODEL"):
        monkeypatch.delenv(name, raising=False)
    client = vision_client(Settings(llm_base_url="http://text.local/v1", llm_models="vision=vl-7b"))
    assert client.settings.llm_base_url == "http://text.local/v1"
    assert client.settings.model_for(VISION_ROLE) == "vl-7b"


def test_no_endpoint_says_what_to_set(monkeypatch):
    monkeypatch.delenv("WF_VISION_BASE_URL", raising=False)
    with pytest.raises(VisionNotConfigured, match="WF_VISION_BASE_URL.*WF_LLM_BASE_URL"):
        vision_client(Settings(llm_base_url=""))
