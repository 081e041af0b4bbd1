"""One LLM client for the whole system: OpenAI-compatible chat completions, or the embedded local model."""

from .client import ChatResult, LLMError, OpenAIChat, ToolCall, make_llm
from .jsonout import extract_json

__all__ = ["ChatResult", "LLMError", "OpenAIChat", "ToolCall", "make_llm", "extract_json"]
