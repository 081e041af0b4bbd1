"""The role-model gRPC service as its own process (`workforce-service role-<role>`)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from workforce.core.toollearning.role_clients import GrpcRole
from workforce.core.toollearning.generator import RoleRequest
from workforce.core.toollearning.messages import RoleOutputError
from workforce.v1 import role_model_pb2, role_model_pb2_grpc

from tests.roles import support
from tests.roles.support import reply

SERVICE = str(Path(sys.executable).parent / "workforce-service")
TOOLS = [
    {
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    }
]

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def caller_service(scripted_llm, tmp_path_factory):
    port, metrics_port = _port(), _port()
    tmp_path = tmp_path_factory.mktemp("role")
    env = os.environ | {
        "WF_LLM_BASE_URL": scripted_llm.base_url,
        "WF_GRPC_PORT": str(port),
        "WF_METRICS_PORT": str(metrics_port),
        "WF_BIND_HOST": "127.0.0.1",
        "WF_LLM_MAX_RETRIES": "0",
        "WF_ROLE_COMPLETION_API": "chat",
        "WF_ROLE_MAX_ATTEMPTS": "2",
        "WF_LLM_MODELS": "caller=caller-lora",
    }
    log = open(tmp_path / "role.log", "wb")
    proc = subprocess.Popen([SERVICE, "role-caller"], env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with grpc.insecure_channel(address) as channel:
                status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if status.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        except grpc.RpcError:
            pass
        assert proc.poll() is None and time.time() < deadline, (tmp_path / "role.log").read_text()
        time.sleep(0.2)
    yield address, metrics_port
    proc.terminate()
    proc.wait(10)


async def test_generate_over_grpc(llm, caller_service):
    llm.script([reply("caller", 'Action: add\nAction Input: {"a": 2, "b": 3}')])
    role = GrpcRole(caller_service[0])
    history = [{"from": "user", "value": "2+3?"}, {"from": "assistant", "value": "Add them.\nNext: caller."}]
    result = await role.generate(RoleRequest("caller", "2+3?", TOOLS, history, family="alpha-umi"))
    assert result.message.name == "add" and result.message.arguments == {"a": 2, "b": 3}
    assert result.prompt.startswith("You have assess to the following apis:\n")
    assert llm.requests()[-1]["model"] == "caller-lora"  # WF_LLM_MODELS picks the adapter per role
    await role.close()


async def test_invalid_output_is_failed_precondition_with_the_raw_output(llm, caller_service):
    llm.script([reply("caller", 'Action: add\nAction Input: {"a": 2, "b": ', times=2)])
    role = GrpcRole(caller_service[0])
    with pytest.raises(RoleOutputError) as err:
        await role.generate(
            RoleRequest("caller", "2+3?", TOOLS, [{"from": "user", "value": "2+3?"}], family="alpha-umi")
        )
    assert "not valid JSON" in str(err.value) and err.value.attempts == 2
    assert err.value.last_output.startswith("Action: add")
    await role.close()


async def test_bad_requests_get_invalid_argument(llm, caller_service):
    async with grpc.aio.insecure_channel(caller_service[0]) as channel:
        stub = role_model_pb2_grpc.RoleModelStub(channel)
        for request, message in [
            (role_model_pb2.GenerateRequest(role="summarizer", instruction="x"), "serves the 'caller' role"),
            (
                role_model_pb2.GenerateRequest(role="caller", instruction="x", prompt_family="chat"),
                "at least one tool",
            ),
            (role_model_pb2.GenerateRequest(role="caller"), "instruction"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Generate(request, timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in err.value.details()


async def test_metrics_count_generate_outcomes(llm, caller_service):
    llm.script([reply("caller", 'Action: add\nAction Input: {"a": 1, "b": 1}')])
    role = GrpcRole(caller_service[0])
    await role.generate(
        RoleRequest("caller", "1+1?", TOOLS, [{"from": "user", "value": "1+1?"}], family="alpha-umi")
    )
    await role.close()
    text = httpx.get(f"http://127.0.0.1:{caller_service[1]}/metrics", timeout=10).text
    assert 'workforce_role_generate_total{family="alpha-umi",outcome="ok",role="caller"}' in text
    assert 'workforce_llm_requests_total{model="caller-lora",outcome="ok",role="caller"}' in text
