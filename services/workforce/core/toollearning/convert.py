"""protobuf GenerateRequest / GenerateResponse ⇄ RoleRequest / RoleResult."""

from google.protobuf import json_format

from ...v1 import role_model_pb2 as pb
from .generator import RoleRequest, RoleResult
from .messages import CallerAction, Conclusion, AutoActPlanStep, AlphaUmiPlannerStep, Reflection, ToolArgument


def request_from_proto(msg: pb.GenerateRequest) -> RoleRequest:
    tools = [
        {
            "name": t.name,
            "description": t.description,
            "parameters": json_format.MessageToDict(t.parameters) if t.HasField("parameters") else {},
        }
        for t in msg.tools
    ]
    return RoleRequest(
        role=msg.role,
        instruction=msg.instruction,
        tools=tools,
        history=[{"from": h.role, "value": h.content} for h in msg.history],
        thought=msg.thought,
        family=msg.prompt_family,
        temperature=msg.temperature if msg.temperature > 0 else None,
        task_id=msg.task_id,
    )


def request_to_proto(request: RoleRequest) -> pb.GenerateRequest:
    msg = pb.GenerateRequest(
        role=request.role,
        instruction=request.instruction,
        thought=request.thought,
        prompt_family=request.family,
        temperature=request.temperature or 0.0,
        task_id=request.task_id,
    )
    for tool in request.tools:
        doc = msg.tools.add(name=tool["name"], description=tool.get("description", ""))
        doc.parameters.update(tool.get("parameters") or {})
    for turn in request.history:
        msg.history.add(role=turn["from"], content=turn["value"])
    return msg


def result_to_proto(result: RoleResult) -> pb.GenerateResponse:
    out = pb.GenerateResponse(
        role=result.role,
        raw_output=result.raw_output,
        prompt=result.prompt,
        attempts=result.attempts,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        model=result.model,
    )
    m = result.message
    if isinstance(m, AlphaUmiPlannerStep):
        out.thought, out.next = m.thought, m.next
    elif isinstance(m, CallerAction):
        out.action = m.name
        out.action_input.update(m.arguments)
    elif isinstance(m, Conclusion):
        out.answer = m.answer
    elif isinstance(m, AutoActPlanStep):
        out.thought, out.action = m.thought, m.action_type
    elif isinstance(m, ToolArgument):
        out.answer = m.argument
    elif isinstance(m, Reflection):
        out.thought, out.verdict = m.thought, m.verdict
    return out


def result_from_proto(msg: pb.GenerateResponse) -> RoleResult:
    role = msg.role
    if role == "planner":
        message = AlphaUmiPlannerStep(msg.thought, msg.next)
    elif role == "caller":
        message = CallerAction(msg.action, _whole_numbers(json_format.MessageToDict(msg.action_input)))
    elif role == "summarizer":
        message = Conclusion(msg.answer)
    elif role == "plan":
        message = AutoActPlanStep(msg.thought, msg.action)
    elif role == "tool":
        message = ToolArgument(msg.answer)
    else:
        message = Reflection(msg.thought, msg.verdict)
    return RoleResult(
        role, message, msg.raw_output, msg.prompt, msg.attempts, msg.prompt_tokens, msg.completion_tokens,
        msg.model,
    )


def _whole_numbers(value):
    """protobuf Struct carries every number as a double: give integral ones back as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value
