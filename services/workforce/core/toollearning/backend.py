"""Calls to the model backend for a role: chat completions (any family) or a raw completion with the exact
training-format prompt (the α-UMi family; the model name may be a LoRA adapter on a shared vLLM base)."""

from ..llm.client import ChatClient, ChatResult
from .settings import RoleSettings


class RoleBackend:
    def __init__(self, settings: RoleSettings, llm=None):
        self.settings = settings
        self.llm = llm or ChatClient(settings)
        self._raw = settings.llm_base_url and settings.role_completion_api == "completions"

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
        if not self._raw:
            return await self.chat(
                [{"role": "user", "content": prompt}], role=role, task_id=task_id, temperature=temperature
            )
        return await self.llm.complete(prompt, role=role, task_id=task_id, temperature=temperature,
                                       max_tokens=self.settings.role_max_tokens, stop=stop)

    async def close(self) -> None:
        if hasattr(self.llm, "close"):
            await self.llm.close()
