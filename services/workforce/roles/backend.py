"""Calls to the model backend for a role: chat completions (any family) or a raw completion with the exact
training-format prompt (the α-UMi family; the model name may be a LoRA adapter on a shared vLLM base)."""

import time

import openai

from ..core.llm.client import ChatResult, LLMError, OpenAIChat, record_call
from .settings import RoleSettings


class RoleBackend:
    def __init__(self, settings: RoleSettings, llm=None):
        self.settings = settings
        self.llm = llm or OpenAIChat(settings)
        self._completions = None
        if settings.llm_base_url and settings.role_completion_api == "completions":
            self._completions = openai.AsyncOpenAI(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key or "EMPTY",
                timeout=settings.llm_timeout_s,
                max_retries=settings.llm_max_retries,
            )

    async def chat(self, messages, *, role, task_id="", json_schema=None, schema_name="", temperature=None):
        return await self.llm.chat(
            messages,
            role=role,
            task_id=task_id,
            json_schema=json_schema,
            schema_name=schema_name,
            temperature=temperature,
            max_tokens=self.settings.role_max_tokens,
        )

    async def complete(self, prompt: str, *, role, task_id="", temperature=None, stop=None) -> ChatResult:
        """A raw completion of `prompt`; without a completions endpoint, the prompt as one user message."""
        if self._completions is None:
            return await self.chat(
                [{"role": "user", "content": prompt}], role=role, task_id=task_id, temperature=temperature
            )
        model = self.settings.model_for(role)
        started = time.perf_counter()
        try:
            response = await self._completions.completions.create(
                model=model,
                prompt=prompt,
                stop=stop,
                max_tokens=self.settings.role_max_tokens,
                temperature=self.settings.llm_temperature if temperature is None else temperature,
                extra_headers={"X-Workforce-Role": role, "X-Workforce-Task": task_id or ""},
            )
        except openai.APIError as exc:
            raise LLMError(
                f"{role}: completion request to {self.settings.llm_base_url} failed: {exc}"
            ) from exc
        if not response.choices:
            raise LLMError(f"{role}: the model returned no choices")
        usage = response.usage
        result = ChatResult(
            content=response.choices[0].text or "",
            model=response.model or model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            latency_s=time.perf_counter() - started,
        )
        record_call(role, model, result)
        return result

    async def close(self) -> None:
        if self._completions is not None:
            await self._completions.close()
        if hasattr(self.llm, "close"):
            await self.llm.close()
