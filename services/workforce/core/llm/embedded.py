"""The embedded default model: a small chat model run in-process with transformers (CPU works).

Used when no OpenAI-compatible endpoint is configured (WF_LLM_BASE_URL empty); same interface as
`OpenAIChat`. Structured outputs and tool calls come from JSON-schema constrained decoding
(constrained.py), so even a small model always returns JSON valid against the schema. Generation runs
in a worker thread, one request at a time, so the event loop stays responsive.
"""

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator

import jsonschema
import torch
from transformers import (
    GenerationConfig, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextStreamer,
)

from ..config import Settings
from ..metrics import LLM_REQUESTS
from .client import ChatResult, LLMError, ToolCall, _record
from .constrained import (
    SchemaBudgetError, SchemaLogitsProcessor, TokenizerIndex, UnsupportedSchemaError, build_tokenizer_index,
)
from .embedded_load import load_model, model_label
from .embedded_prompt import prompt_messages, tool_call_schema


class _Cancelled(StoppingCriteria):
    """Stops generation when the request was cancelled (or a stream consumer went away)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)


class _QueueStreamer(TextStreamer):
    """Hands decoded text deltas from the generation thread to an asyncio queue."""

    def __init__(self, tokenizer, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.loop, self.queue = loop, queue

    def on_finalized_text(self, text: str, stream_end: bool = False):
        if text:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, text)


class EmbeddedChat:
    """Chat with a local transformers model; the same methods as `OpenAIChat`."""

    def __init__(self, settings: Settings, model, tokenizer, name: str):
        self.settings = settings
        self.model = model
        self.tokenizer = tokenizer
        self.model_name = name
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if not self.eos_ids:
            raise LLMError(f"embedded model {name!r} has no end-of-sequence token")
        self._index: TokenizerIndex = build_tokenizer_index(tokenizer, self.eos_ids)  # ~1 s per 50k tokens
        self._queue = asyncio.Lock()  # one request generates at a time, the others wait here
        self._busy = threading.Lock()  # still held by a cancelled request's thread until it stops

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmbeddedChat":
        """Load `settings.embedded_model` (a local directory or a hub id); LLMError with the fix if it can't.

        WF_EMBEDDED_THREADS (default: torch's choice, one per core) sets torch's CPU threads for this
        process; 1 is much faster where many processes share few cores (local mode, CI).
        """
        threads = os.environ.get("WF_EMBEDDED_THREADS", "").strip()
        if threads:
            if not threads.isdigit() or int(threads) < 1:
                raise LLMError(f"WF_EMBEDDED_THREADS must be a positive integer, got {threads!r}")
            torch.set_num_threads(int(threads))
        model, tokenizer = load_model(settings.embedded_model)
        return cls(settings, model, tokenizer, model_label(settings.embedded_model))

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
        """One completion. With `json_schema` the content is JSON valid against it; else with `tools`
        the model either calls tools (ChatResult.tool_calls) or answers (content)."""
        schema = json_schema if json_schema is not None else (tool_call_schema(tools) if tools else None)
        prompt = prompt_messages(messages, tools=tools, json_schema=json_schema)
        started = time.perf_counter()
        text, prompt_tokens, completion_tokens = await self._run(
            role, prompt, schema, temperature, max_tokens)
        result = ChatResult(
            content=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            model=self.model_name, latency_s=time.perf_counter() - started,
        )
        if schema is not None:
            self._check(role, text, schema)
            if json_schema is None:
                _to_tool_calls(result, json.loads(text))
        _record(role, self.model_name, result)
        return result

    async def stream(
        self, messages: list[dict], *, role: str, task_id: str = "", temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Yield content deltas as the model writes them."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        streamer = _QueueStreamer(self.tokenizer, loop, queue)
        prompt = prompt_messages(messages)
        started = time.perf_counter()
        job = asyncio.ensure_future(self._run(role, prompt, None, temperature, max_tokens, streamer))
        job.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (delta := await queue.get()) is not None:
                yield delta
            _, prompt_tokens, completion_tokens = await job
        finally:
            if not job.done():  # the consumer stopped early
                job.cancel()
        _record(role, self.model_name, ChatResult(
            "", [], prompt_tokens, completion_tokens, self.model_name, time.perf_counter() - started))

    async def close(self) -> None:
        """Nothing to release beyond memory; kept for interface parity with OpenAIChat."""

    async def _run(self, role, prompt, schema, temperature, max_tokens,
                   streamer=None) -> tuple[str, int, int]:
        temperature = self.settings.llm_temperature if temperature is None else temperature
        limit = max_tokens or self.settings.embedded_max_new_tokens
        cancel = threading.Event()
        try:
            async with self._queue:
                return await asyncio.to_thread(
                    self._generate, prompt, schema, temperature, limit, cancel, streamer)
        except asyncio.CancelledError:
            cancel.set()
            raise
        except LLMError:
            LLM_REQUESTS.labels(role, self.model_name, "error").inc()
            raise
        except Exception as exc:
            LLM_REQUESTS.labels(role, self.model_name, "error").inc()
            raise LLMError(f"{role}: embedded model {self.model_name} failed: {exc}") from exc

    def _generate(self, prompt, schema, temperature, limit, cancel, streamer) -> tuple[str, int, int]:
        """Blocking generation (in a worker thread): (text, prompt tokens, completion tokens)."""
        with self._busy:
            if cancel.is_set():
                raise LLMError("cancelled")
            input_ids = self._encode(prompt)
            config = GenerationConfig.from_dict(self.model.generation_config.to_dict())
            config.max_new_tokens = limit
            config.eos_token_id = self.eos_ids
            config.pad_token_id = config.pad_token_id if config.pad_token_id is not None else self.eos_ids[0]
            processors = LogitsProcessorList()
            if schema is not None:
                try:
                    processors.append(SchemaLogitsProcessor(
                        self._index, schema, input_ids[0].tolist(), limit, temperature))
                except SchemaBudgetError as exc:
                    raise LLMError(f"{exc}; raise WF_EMBEDDED_MAX_NEW_TOKENS") from exc
                except UnsupportedSchemaError as exc:
                    raise LLMError(f"{exc}: {json.dumps(schema)[:300]}") from exc
                config.do_sample = False  # the processor picks (and samples) every token itself
            else:
                config.do_sample = temperature > 0
                if config.do_sample:
                    config.temperature = temperature
            if not config.do_sample:  # drop sampling knobs so transformers does not warn about them
                config.temperature, config.top_p, config.top_k = None, None, None
            with torch.inference_mode():
                output = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=config,
                    logits_processor=processors,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    streamer=streamer,
                )
            if cancel.is_set():
                raise LLMError("cancelled")
            new = output[0, input_ids.shape[1]:].tolist()
            while new and new[-1] in self.eos_ids + [config.pad_token_id]:
                new.pop()
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            return text.strip() if schema is not None else text, input_ids.shape[1], len(new)

    def _encode(self, prompt: list[dict]) -> torch.Tensor:
        if not getattr(self.tokenizer, "chat_template", None):
            raise LLMError(
                f"embedded model {self.model_name} has no chat template; use a chat/instruct model")
        text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]

    def _check(self, role: str, text: str, schema: dict) -> None:
        try:
            jsonschema.validate(json.loads(text), schema)
        except (ValueError, jsonschema.ValidationError) as exc:
            LLM_REQUESTS.labels(role, self.model_name, "error").inc()
            reason = getattr(exc, "message", str(exc))
            raise LLMError(f"{role}: embedded model output does not match the schema: {reason}") from exc


def _to_tool_calls(result: ChatResult, data: dict) -> None:
    """Map the tool-call protocol's JSON onto the result: calls, or a plain answer."""
    if "tool_calls" in data:
        result.content = ""
        result.tool_calls = [
            ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=call["name"],
                     arguments=json.dumps(call.get("arguments", {}), ensure_ascii=False))
            for call in data["tool_calls"]
        ]
    else:
        result.content = data.get("content", "")
