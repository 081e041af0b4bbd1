"""OpenAI-compatible chat completions (vLLM, OpenAI, any compatible server).

Retries with exponential backoff on connection errors, 408/409/429/5xx and timeouts are the `openai`
library's own (max_retries); this module adds structured outputs, tool calls, streaming, metrics and
token accounting by role and task.
"""

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import openai

from ..config import Settings
from ..metrics import LLM_LATENCY, LLM_REQUESTS, LLM_TOKENS
from ...v1 import common_pb2

log = logging.getLogger(__name__)


class LLMError(Exception):
    """The model backend failed after retries, or refused the request."""


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model wrote it

    def parsed_arguments(self) -> dict:
        args = json.loads(self.arguments or "{}")
        if not isinstance(args, dict):
            raise ValueError("tool arguments must be a JSON object")
        return args


@dataclass
class ChatResult:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    latency_s: float = 0.0

    def assistant_message(self) -> dict:
        message: dict = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


class UsageBook:
    """Token usage per role, merged into TaskRecord.usage by whoever owns the record."""

    def __init__(self):
        self.by_role: dict[str, common_pb2.Usage] = {}

    def add(self, role: str, result: ChatResult) -> None:
        usage = self.by_role.setdefault(role, common_pb2.Usage())
        usage.prompt_tokens += result.prompt_tokens
        usage.completion_tokens += result.completion_tokens
        usage.requests += 1

    def merge_into(self, target) -> None:
        """target: a protobuf map<string, Usage>."""
        for role, usage in self.by_role.items():
            merge_usage(target, role, usage)


def merge_usage(target, role: str, usage: common_pb2.Usage) -> None:
    slot = target[role]
    slot.prompt_tokens += usage.prompt_tokens
    slot.completion_tokens += usage.completion_tokens
    slot.requests += usage.requests


class OpenAIChat:
    """Async chat client for one OpenAI-compatible endpoint; the model is chosen per role."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "EMPTY",
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )

    def _request(self, messages, role, task_id, tools, json_schema, schema_name, temperature, max_tokens) -> dict:
        request: dict = {
            "model": self.settings.model_for(role),
            "messages": messages,
            "temperature": self.settings.llm_temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.settings.llm_max_tokens,
            "extra_headers": {"X-Workforce-Role": role, "X-Workforce-Task": task_id or ""},
        }
        if tools:
            request["tools"] = tools
        if json_schema is not None and self.settings.llm_structured_output:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name or "output", "schema": json_schema, "strict": True},
            }
        return request

    async def chat(
        self,
        messages: list[dict],
        *,
        role: str,
        task_id: str = "",
        tools: list[dict] | None = None,
        json_schema: dict | None = None,
        schema_name: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        request = self._request(messages, role, task_id, tools, json_schema, schema_name, temperature, max_tokens)
        model = request["model"]
        started = time.perf_counter()
        try:
            response = await self.client.chat.completions.create(**request)
        except openai.APIError as exc:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise LLMError(f"{role}: LLM request to {self.settings.llm_base_url} failed: {exc}") from exc
        latency = time.perf_counter() - started
        if not response.choices:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise LLMError(f"{role}: the model returned no choices")
        message = response.choices[0].message
        calls = [
            ToolCall(id=c.id or f"call_{i}", name=c.function.name, arguments=c.function.arguments or "{}")
            for i, c in enumerate(message.tool_calls or [])
        ]
        usage = response.usage
        result = ChatResult(
            content=message.content or "",
            tool_calls=calls,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            model=response.model or model,
            latency_s=latency,
        )
        record_call(role, model, result)
        return result

    async def stream(
        self, messages: list[dict], *, role: str, task_id: str = "", temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Yield content deltas as the model writes them."""
        request = self._request(messages, role, task_id, None, None, "", temperature, max_tokens)
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        model = request["model"]
        prompt_tokens = completion_tokens = 0
        try:
            async for chunk in await self.client.chat.completions.create(**request):
                if chunk.usage:
                    prompt_tokens = chunk.usage.prompt_tokens or 0
                    completion_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except openai.APIError as exc:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise LLMError(f"{role}: streaming request failed: {exc}") from exc
        record_call(role, model, ChatResult("", [], prompt_tokens, completion_tokens, model, time.perf_counter() - started))

    async def close(self) -> None:
        await self.client.close()


def record_call(role: str, model: str, result: ChatResult) -> None:
    LLM_REQUESTS.labels(role, model, "ok").inc()
    LLM_LATENCY.labels(role, model).observe(result.latency_s)
    LLM_TOKENS.labels(role, model, "prompt").inc(result.prompt_tokens)
    LLM_TOKENS.labels(role, model, "completion").inc(result.completion_tokens)


def make_llm(settings: Settings):
    """The configured backend: an OpenAI-compatible endpoint, or the embedded local model when none is set."""
    if settings.llm_base_url:
        return OpenAIChat(settings)
    from .embedded import EmbeddedChat  # heavy (torch); only when no endpoint is configured

    return EmbeddedChat.from_settings(settings)


_record = record_call  # the name the embedded model used before record_call was public
