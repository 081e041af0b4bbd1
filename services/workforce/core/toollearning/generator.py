"""One role's Generate: render the prompt of the requested family, call the backend, parse and validate,
retry on invalid output (chat family: with the error fed back; α-UMi family: resampled, since feedback
would break the training format), and raise RoleOutputError with every reason when all attempts fail."""

import logging
from dataclasses import dataclass, field

from . import alpha_umi_format, autoact_format, chat_format, parsers
from .messages import InvalidOutput, RoleOutputError
from .settings import RoleSettings
from .tooldocs import toolbench_doc

log = logging.getLogger(__name__)

ALPHA_UMI_ROLES = ("planner", "caller", "summarizer")
AUTOACT_ROLES = ("plan", "tool", "reflect")
ROLES = ALPHA_UMI_ROLES + AUTOACT_ROLES
FAMILIES = ("alpha-umi", "chat")


@dataclass
class RoleRequest:
    role: str
    instruction: str
    tools: list[dict] = field(default_factory=list)  # {name, description, parameters}
    history: list[dict] = field(default_factory=list)  # {from, value}
    thought: str = ""
    family: str = ""
    temperature: float | None = None
    task_id: str = ""


@dataclass
class RoleResult:
    role: str
    message: object  # AlphaUmiPlannerStep | CallerAction | Conclusion | AutoActPlanStep | ToolArgument | Reflection
    raw_output: str
    prompt: str
    attempts: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""  # the model that answered (the adapter's name when a LoRA adapter was selected)


def check_request(request: RoleRequest, family: str) -> None:
    """Raise ValueError for a request no model call can answer."""
    if request.role not in ROLES:
        raise ValueError(f"unknown role {request.role!r}; roles: {', '.join(ROLES)}")
    if family not in FAMILIES:
        raise ValueError(f"unknown prompt family {family!r}; families: {', '.join(FAMILIES)}")
    if not request.instruction.strip() and not request.history:
        raise ValueError("an instruction (or a history starting with the user's request) is required")
    if request.role in ("caller", "plan", "tool") and not request.tools:
        raise ValueError(f"the {request.role} role needs at least one tool")
    if request.role == "tool" and not (request.history and request.history[-1]["from"] == "action"):
        raise ValueError(
            "the tool role needs the pending action type as the last history turn (from='action')"
        )
    for turn in request.history:
        if not isinstance(turn.get("from"), str) or not isinstance(turn.get("value"), str):
            raise ValueError("every history turn needs a 'from' and a 'value' string")


class RoleGenerator:
    def __init__(self, settings: RoleSettings, backend):
        self.settings = settings
        self.backend = backend

    async def generate(self, request: RoleRequest) -> RoleResult:
        family = request.family or self.settings.role_prompt_family
        check_request(request, family)
        if request.role in AUTOACT_ROLES:
            return await self._autoact(request, family)
        history = list(request.history)
        if not history or history[0]["from"] != "user":
            history.insert(0, {"from": "user", "value": request.instruction})
        if family == "alpha-umi":
            return await self._alpha_umi(request, history)
        return await self._chat(request, history)

    async def _alpha_umi(self, request: RoleRequest, history: list[dict]) -> RoleResult:
        docs = [
            toolbench_doc(t["name"], t.get("description", ""), t.get("parameters")) for t in request.tools
        ]
        thought = request.thought
        if request.role == "caller" and not thought:
            thought = next((t["value"] for t in reversed(history) if t["from"] == "assistant"), "")
        prompt = alpha_umi_format.render(request.role, docs, history, thought)
        schemas = {t["name"][-64:]: t.get("parameters") or {} for t in request.tools}
        full_names = {t["name"][-64:]: t["name"] for t in request.tools}  # the prompt shows names cut to 64
        default_next = self.settings.role_planner_default_next or None

        def parse(text):
            if request.role == "planner":
                return parsers.parse_alpha_umi_planner(text, default_next)
            if request.role == "caller":
                action = parsers.parse_caller(text, schemas)
                action.name = full_names[action.name]
                return action
            return parsers.parse_conclusion(text)

        async def call(attempt: int):
            temperature = request.temperature
            if attempt > 1:
                temperature = max(temperature or 0.0, self.settings.role_retry_temperature)
            return await self.backend.complete(
                alpha_umi_format.model_prompt(prompt),
                role=request.role,
                task_id=request.task_id,
                temperature=temperature,
                stop=alpha_umi_format.STOP,
            )

        return await self._attempts(request, prompt, call, parse, feedback=None)

    async def _chat(self, request: RoleRequest, history: list[dict]) -> RoleResult:
        messages = chat_format.render(request.role, request.tools, history, request.thought)
        schema = chat_format.schema_for(request.role, request.tools, self.settings.role_thought_max_chars)
        return await self._chat_attempts(
            request, messages, schema, lambda text: chat_format.parse(request.role, text, request.tools)
        )

    async def _autoact(self, request: RoleRequest, family: str) -> RoleResult:
        history, action_type = list(request.history), ""
        if request.role == "tool":
            action_type = history.pop()["value"].split("[")[0].strip()
        prompt = autoact_format.render(request.role, request.instruction, request.tools, history, action_type)
        types = autoact_format.action_types(request.tools)

        def parse_text(text):
            if request.role == "plan":
                return parsers.parse_autoact_plan("Thought: " + text if "Thought" not in text else text, types)
            if request.role == "tool":
                return parsers.parse_tool_argument(text)
            return parsers.parse_reflection("Thought: " + text if "Thought" not in text else text)

        if family == "alpha-umi":  # a completion-style prompt, as the AutoAct agents were trained on

            async def call(attempt: int):
                temperature = (
                    request.temperature
                    if attempt == 1
                    else max(request.temperature or 0.0, self.settings.role_retry_temperature)
                )
                return await self.backend.complete(
                    prompt,
                    role=request.role,
                    task_id=request.task_id,
                    temperature=temperature,
                    stop=["\nObservation"],
                )

            return await self._attempts(request, prompt, call, parse_text, feedback=None)
        schema = autoact_format.schema_for(request.role, request.tools, self.settings.role_thought_max_chars)
        messages = [{"role": "user", "content": prompt + "\n(Reply with a JSON object.)"}]
        return await self._chat_attempts(
            request, messages, schema, lambda text: _autoact_json(request.role, text, types, parse_text)
        )

    async def _chat_attempts(self, request, messages, schema, parse) -> RoleResult:
        prompt = "\n\n".join(f"[{m['role']}] {m['content']}" for m in messages)

        async def call(attempt: int):
            return await self.backend.chat(
                messages,
                role=request.role,
                task_id=request.task_id,
                json_schema=schema,
                schema_name=f"{request.role}_output",
                temperature=request.temperature,
            )

        def feedback(raw: str, error: str) -> None:
            messages.extend(
                [
                    {"role": "assistant", "content": raw},
                    {"role": "user", "content": f"That reply is invalid: {error}. Reply again, correctly."},
                ]
            )

        return await self._attempts(request, prompt, call, parse, feedback)

    async def _attempts(self, request, prompt, call, parse, feedback) -> RoleResult:
        reasons, raw = [], ""
        prompt_tokens = completion_tokens = 0
        attempts = max(1, self.settings.role_max_attempts)
        for attempt in range(1, attempts + 1):
            result = await call(attempt)
            prompt_tokens += result.prompt_tokens
            completion_tokens += result.completion_tokens
            raw = result.content
            try:
                message = parse(raw)
            except InvalidOutput as exc:
                reasons.append(str(exc))
                log.info("%s attempt %d invalid: %s", request.role, attempt, exc)
                if feedback:
                    feedback(raw, str(exc))
                continue
            return RoleResult(request.role, message, raw, prompt, attempt, prompt_tokens, completion_tokens,
                              result.adapter or result.model)
        raise RoleOutputError(request.role, attempts, reasons, raw)


def _autoact_json(role: str, text: str, types: list[str], fallback):
    """AutoAct roles in the chat family answer JSON; plain text falls back to the bracket parsers."""
    from ..llm import extract_json
    from .messages import AutoActPlanStep, Reflection, ToolArgument

    try:
        value = extract_json(text)
    except ValueError:
        return fallback(text)
    if not isinstance(value, dict):
        raise InvalidOutput("the output must be a JSON object")
    if role == "plan":
        wanted = {t.lower(): t for t in types}
        kind = str(value.get("action_type", "")).strip()
        if kind.lower() not in wanted:
            raise InvalidOutput(f"unknown action type {kind!r}; valid: {', '.join(types)}")
        return AutoActPlanStep(str(value.get("thought", "")), wanted[kind.lower()])
    if role == "tool":
        argument = str(value.get("argument", "")).strip()
        if not argument:
            raise InvalidOutput("the tool agent returned an empty argument")
        return ToolArgument(argument)
    verdict = str(value.get("verdict", "")).strip().lower()
    if verdict not in ("right", "wrong"):
        raise InvalidOutput(f"verdict must be right or wrong, got {value.get('verdict')!r}")
    return Reflection(str(value.get("thought", "")), verdict)
