"""The one LLM client: OpenAI-compatible chat completions over plain HTTP + JSON (vLLM, llama.cpp, OpenAI, …),
on aiohttp (its C HTTP parser and one write per small request: about a third of httpx's CPU per call, measured in
docs/benchmarks.md).

Structured outputs (JSON schema), tool calls, streaming, timeouts, bounded retries with backoff, metrics and
token accounting by role and task. Every way a backend can fail — connection errors, timeouts, HTTP errors,
HTML or other non-JSON bodies, bodies of the wrong shape, empty output — ends as an `LLMError` with a short
reason; nothing else escapes `chat()`.
"""

import asyncio
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from .. import tracing
from ..config import Settings
from ..metrics import LLM_LATENCY, LLM_REQUESTS, LLM_TOKENS
from ...v1 import common_pb2
from .budget import max_tokens_for

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
LLGUIDANCE_JSON = "%llguidance {}\nstart: %json "
COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


class LLMError(Exception):
    """The model backend failed (after retries) or returned something unusable; the message says why."""

    def __init__(self, message: str, *, kind: str = "backend"):
        super().__init__(message)
        self.kind = kind  # backend | timeout | connect | http | bad_body | cancelled


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
    finish_reason: str = ""
    adapter: str = ""  # the LoRA adapter the request selected (WF_LLM_LORA_ADAPTERS), by its model name

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

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


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


class ChatClient:
    """Async chat client for one OpenAI-compatible endpoint; the model is chosen per role."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base_url = settings.llm_base_url.rstrip("/")
        self._default_headers = {"Content-Type": "application/json"}
        if settings.llm_api_key and settings.llm_api_key != "EMPTY":
            self._default_headers["Authorization"] = f"Bearer {settings.llm_api_key}"
        # Like a read timeout: how long the server may stay silent (a streamed answer may take longer in all).
        self._timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, settings.llm_timeout_s),
                                              sock_read=settings.llm_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop = None
        _CLIENTS.add(self)

    def _http(self) -> aiohttp.ClientSession:
        """The connection pool, made in the event loop that uses it (a client may outlive a loop in tests and
        scripts: a new loop gets a new pool)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._loop = loop
            self._session = aiohttp.ClientSession(
                headers=self._default_headers, timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=0, keepalive_timeout=60),
                json_serialize=_dumps)
        return self._session

    def _request(self, messages, role, tools, json_schema, schema_name, temperature, max_tokens) -> dict:
        cap = max_tokens or self.settings.llm_max_tokens
        request: dict = {
            "model": self.settings.model_for(role),
            "messages": messages,
            "temperature": self.settings.llm_temperature if temperature is None else temperature,
        }
        if tools:
            request["tools"] = tools
        if json_schema is not None and self.settings.llm_structured_output:
            if self.settings.llm_schema_mode == "llguidance":
                # llama.cpp with LLGuidance: the same schema, but compact JSON (no free whitespace: fewer tokens)
                request["grammar"] = LLGUIDANCE_JSON + json.dumps({**json_schema, "x-guidance": COMPACT_JSON})
            else:
                request["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": schema_name or "output", "schema": json_schema, "strict": True},
                }
        if json_schema is not None and not max_tokens:
            cap = max_tokens_for(json_schema, cap)  # a schema-shaped answer never needs more than this
        request["max_tokens"] = cap
        self._select_adapter(request)
        return request

    def _select_adapter(self, request: dict) -> str:
        """llama.cpp serves LoRA adapters on one base and applies one only when a request names it by id."""
        adapter = self.settings.lora_adapter(request["model"])
        if adapter is None:
            return ""
        request["lora"] = [{"id": adapter, "scale": 1.0}]
        return request["model"]

    def _headers(self, role: str, task_id: str) -> dict:
        headers = {"X-Workforce-Role": role, "X-Workforce-Task": task_id or ""}
        tracing.inject(headers)  # a model server that traces (vLLM) continues the task's trace
        return headers

    async def _post(self, request: dict, role: str, task_id: str, path: str = "/chat/completions") -> dict:
        """POST with bounded retries; the decoded JSON body or LLMError."""
        url = f"{self.base_url}{path}"
        attempts = max(0, self.settings.llm_max_retries) + 1
        error = LLMError("no attempt was made")
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random()))
            try:
                async with self._http().post(url, json=request, headers=self._headers(role, task_id)) as response:
                    status, raw = response.status, await response.read()
                    content_type = response.headers.get("content-type", "")
            except asyncio.TimeoutError:
                error = LLMError(f"{role}: no answer from {self.base_url} within {self.settings.llm_timeout_s:g} s",
                                 kind="timeout")
                continue
            except aiohttp.ClientError as exc:
                error = LLMError(f"{role}: cannot reach the model at {self.base_url}: {type(exc).__name__}"
                                 f"{': ' + _short(str(exc)) if str(exc) else ''}", kind="connect")
                continue
            if status >= 400:
                error = LLMError(f"{role}: the model at {self.base_url} answered HTTP {status}: "
                                 f"{_short(raw.decode('utf-8', 'replace'))}", kind="http")
                error.status = status
                if status in RETRYABLE_STATUS:
                    continue
                raise error
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                kind = "HTML" if "html" in content_type else "non-JSON"
                error = LLMError(f"{role}: the model answered with a {kind} body instead of JSON: "
                                 f"{_short(raw.decode('utf-8', 'replace'), 120)}", kind="bad_body")
                continue
            if not isinstance(body, dict):
                error = LLMError(f"{role}: the model's answer is not a JSON object", kind="bad_body")
                continue
            return body
        raise error

    async def chat(
        self,
        messages: list[dict],
        *,
        role: str,
        task_id: str = "",
        tools: list[dict] | None = None,
        tool_choice: str | None = None,
        json_schema: dict | None = None,
        schema_name: str = "",
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
    ) -> ChatResult:
        request = self._request(messages, role, tools, json_schema, schema_name, temperature, max_tokens)
        if tools and tool_choice:
            request["tool_choice"] = tool_choice
        if stop:
            request["stop"] = stop
        model = request["model"]
        started = time.perf_counter()
        with tracing.span(f"chat {model}", kind="client", attributes=_span_attributes("chat", role, model, task_id)
                          if tracing.enabled() else None) as span:
            try:
                body = await self._post(request, role, task_id)
                result = _parse_completion(body, role, model)
                result.adapter = model if "lora" in request else ""
            except LLMError:
                LLM_REQUESTS.labels(role, model, "error").inc()
                raise
            result.latency_s = time.perf_counter() - started
            record_call(role, model, result)
            _span_usage(span, result)
        return result

    async def complete(self, prompt: str, *, role: str, task_id: str = "", temperature: float | None = None,
                       max_tokens: int | None = None, stop: list[str] | None = None) -> ChatResult:
        """A raw completion of `prompt` (POST /completions): for models trained on an exact prompt format."""
        model = self.settings.model_for(role)
        request = {"model": model, "prompt": prompt, "max_tokens": max_tokens or self.settings.llm_max_tokens,
                   "temperature": self.settings.llm_temperature if temperature is None else temperature}
        if stop:
            request["stop"] = stop
        self._select_adapter(request)
        started = time.perf_counter()
        with tracing.span(f"text_completion {model}", kind="client", attributes=_span_attributes(
                "text_completion", role, model, task_id) if tracing.enabled() else None) as span:
            result = await self._complete(request, role, task_id, model, started)
            _span_usage(span, result)
        return result

    async def _complete(self, request: dict, role: str, task_id: str, model: str, started: float) -> ChatResult:
        try:
            body = await self._post(request, role, task_id, "/completions")
            choices = body.get("choices")
            if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
                raise LLMError(f"{role}: the model returned no choices", kind="bad_body")
            text = choices[0].get("text")
            if text is not None and not isinstance(text, str):
                raise LLMError(f"{role}: the completion is not text", kind="bad_body")
        except LLMError:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        result = ChatResult(content=text or "", prompt_tokens=_int(usage.get("prompt_tokens")),
                            completion_tokens=_int(usage.get("completion_tokens")), model=str(body.get("model") or model),
                            latency_s=time.perf_counter() - started,
                            finish_reason=str(choices[0].get("finish_reason") or ""),
                            adapter=model if "lora" in request else "")
        record_call(role, model, result)
        return result

    async def stream(
        self, messages: list[dict], *, role: str, task_id: str = "", temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Yield content deltas as the model writes them (Server-Sent Events)."""
        request = self._request(messages, role, None, None, "", temperature, max_tokens)
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        model = request["model"]
        usage = {}
        try:
            async with self._http().post(f"{self.base_url}/chat/completions", json=request,
                                         headers=self._headers(role, task_id)) as response:
                if response.status >= 400:
                    text = (await response.read()).decode("utf-8", "replace")
                    raise LLMError(f"{role}: streaming request answered HTTP {response.status}: {_short(text)}",
                                   kind="http")
                async for raw_line in response.content:
                    line = raw_line.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise LLMError(f"{role}: the stream carried a non-JSON event: {_short(data, 120)}",
                                       kind="bad_body") from None
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        delta = (choice or {}).get("delta") or {}
                        if isinstance(delta.get("content"), str) and delta["content"]:
                            yield delta["content"]
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise LLMError(f"{role}: streaming request failed: {type(exc).__name__}", kind="connect") from exc
        except LLMError:
            LLM_REQUESTS.labels(role, model, "error").inc()
            raise
        record_call(role, model, ChatResult("", [], int(usage.get("prompt_tokens") or 0),
                                            int(usage.get("completion_tokens") or 0), model,
                                            time.perf_counter() - started))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


_CLIENTS: "weakref.WeakSet[ChatClient]" = weakref.WeakSet()


async def close_clients() -> None:
    """Close every client's connections (a service's last step: an unclosed pool is reported at exit)."""
    for client in list(_CLIENTS):
        await client.close()


def _parse_completion(body: dict, role: str, model: str) -> ChatResult:
    """A chat.completion body → ChatResult; LLMError when its shape is wrong."""
    if "error" in body and not body.get("choices"):
        raise LLMError(f"{role}: the model returned an error: {_short(json.dumps(body['error']))}", kind="backend")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMError(f"{role}: the model returned no choices", kind="bad_body")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise LLMError(f"{role}: the model's choice has no message", kind="bad_body")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise LLMError(f"{role}: the model's message content is not text", kind="bad_body")
    calls = []
    for i, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise LLMError(f"{role}: the model wrote a malformed tool call", kind="bad_body")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        calls.append(ToolCall(id=str(call.get("id") or f"call_{i}"), name=function["name"], arguments=arguments))
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return ChatResult(
        content=content or "",
        tool_calls=calls,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        model=str(body.get("model") or model),
        finish_reason=str(choices[0].get("finish_reason") or ""),
    )


def _int(value) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _span_attributes(operation: str, role: str, model: str, task_id: str) -> dict:
    """OpenTelemetry GenAI attributes of one model call."""
    return {"gen_ai.operation.name": operation, "gen_ai.request.model": model, "wf.role": role, "wf.task_id": task_id}


def _span_usage(span, result: ChatResult) -> None:
    if not tracing.enabled():
        return
    span.set_attributes({"gen_ai.usage.input_tokens": result.prompt_tokens,
                         "gen_ai.usage.output_tokens": result.completion_tokens,
                         "gen_ai.response.model": result.model or "",
                         "gen_ai.response.finish_reasons": [result.finish_reason or ""]})


def record_call(role: str, model: str, result: ChatResult) -> None:
    LLM_REQUESTS.labels(role, model, "ok").inc()
    LLM_LATENCY.labels(role, model).observe(result.latency_s)
    LLM_TOKENS.labels(role, model, "prompt").inc(result.prompt_tokens)
    LLM_TOKENS.labels(role, model, "completion").inc(result.completion_tokens)




def make_llm(settings: Settings) -> ChatClient:
    """The configured backend. No service loads a model itself: locally, `make run` starts one model server and
    points every service at it with WF_LLM_BASE_URL."""
    if not settings.llm_base_url:
        raise LLMError("no model endpoint: set WF_LLM_BASE_URL (an OpenAI-compatible server, e.g. the local model "
                       "server `make run` starts)", kind="connect")
    return ChatClient(settings)
