"""The LLM for AutoAct's data steps: the project's OpenAI-compatible client (WF_LLM_* settings)."""


def default_llm():
    from workforce.core.config import Settings
    from workforce.core.llm.client import ChatClient

    settings = Settings()
    if not settings.llm_base_url:
        raise RuntimeError(
            "AutoAct data steps need an OpenAI-compatible endpoint: set WF_LLM_BASE_URL (and WF_LLM_MODEL)"
        )
    return ChatClient(settings)
