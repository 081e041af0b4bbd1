"""One LLM client for the whole system: OpenAI-compatible chat completions over HTTP + JSON."""

from .client import ChatClient, ChatResult, LLMError, ToolCall, make_llm
from .jsonout import extract_json

__all__ = ["ChatClient", "ChatResult", "LLMError", "ToolCall", "make_llm", "extract_json"]
