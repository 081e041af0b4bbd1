"""The role services answer Generate against vLLM, each role on its own LoRA adapter of the shared base.

On the requests of the scripted episode the trained adapters must give back exactly their trained turns,
parsed into typed messages; on a request they were not trained for, the service must end clearly
(FAILED_PRECONDITION naming the attempts) rather than return something unvalidated. Every attempt reached
vLLM under the role's adapter name.
"""

import grpc
import pytest
from google.protobuf import json_format

from workforce.core.toollearning import alpha_umi_format as alpha_umi
from workforce.v1 import role_model_pb2 as pb
from workforce.v1 import role_model_pb2_grpc

from . import role_adapters as episode
from .roles import MAX_ATTEMPTS, ROLE_MODELS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def tool_doc(name=episode.TOOL["name"]) -> pb.ToolDoc:
    doc = pb.ToolDoc(name=name, description=episode.TOOL["description"])
    doc.parameters.update(episode.WEATHER)
    return doc


def request_for(role: str, turns: int, thought: str = "", tools=None) -> pb.GenerateRequest:
    history = [pb.HistoryTurn(role=t["from"], content=t["value"]) for t in episode.history(turns)[1:]]
    return pb.GenerateRequest(role=role, instruction=episode.INSTRUCTION, tools=tools or [tool_doc()],
                              history=history, thought=thought, prompt_family="alpha-umi", temperature=0)


async def generate(role_services, vllm, request: pb.GenerateRequest, attempts: int = 1):
    model = ROLE_MODELS[request.role]
    before = vllm.requests_for(model)
    try:
        async with grpc.aio.insecure_channel(role_services[request.role]) as channel:
            return await role_model_pb2_grpc.RoleModelStub(channel).Generate(request, timeout=600)
    finally:  # each attempt reached vLLM under the role's adapter
        assert vllm.requests_for(model) == before + attempts


async def test_planner_steps_of_the_episode(role_services, vllm):
    first = await generate(role_services, vllm, request_for("planner", 1))
    assert alpha_umi.model_prompt(first.prompt) == episode.prompt("planner", 1)  # what the adapter learned
    assert first.thought == "I should look up the weather in Paris."
    assert (first.next, first.attempts) == ("caller", 1)
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    second = await generate(role_services, vllm, request_for("planner", 4))
    assert (second.thought, second.next) == ("I know the weather in Paris now.", "conclusion")


async def test_caller_gives_the_action_with_schema_checked_arguments(role_services, vllm):
    response = await generate(role_services, vllm, request_for("caller", 2, thought=episode.PLAN_CALL))
    assert alpha_umi.model_prompt(response.prompt) == episode.prompt("caller", 2, episode.PLAN_CALL)
    assert response.raw_output.strip() == episode.CALL and response.attempts == 1
    assert response.action == episode.ACTION["name"]
    assert json_format.MessageToDict(response.action_input) == episode.ACTION["arguments"]


async def test_summarizer_gives_the_answer(role_services, vllm):
    response = await generate(role_services, vllm, request_for("summarizer", 5))
    assert (response.answer, response.attempts) == (episode.ANSWER, 1)


async def test_a_tool_the_caller_was_not_offered_is_failed_precondition(role_services, vllm):
    # the adapter names get_weather, which this request does not offer: invalid on every attempt
    request = request_for("caller", 2, thought=episode.PLAN_CALL, tools=[tool_doc("get_forecast")])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await generate(role_services, vllm, request, attempts=MAX_ATTEMPTS)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details().startswith(f"caller: no valid output after {MAX_ATTEMPTS} attempt(s): ")
    assert dict(caught.value.trailing_metadata())["wf-attempts"] == str(MAX_ATTEMPTS)


async def test_a_request_no_model_can_answer_is_invalid_argument(role_services, vllm):
    request = request_for("caller", 2, thought=episode.PLAN_CALL)
    del request.tools[:]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await generate(role_services, vllm, request, attempts=0)  # rejected before any model call
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "needs at least one tool" in caught.value.details()
