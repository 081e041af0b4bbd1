"""worker-tool through the whole system: gateway → planner → coordinator → worker-tool, whose α-UMi loop
calls the planner / caller / summarizer role services over gRPC and a real HTTP tool (OpenAPI)."""

import json
import socket
import time

import pytest
from workforce.local.nats_server import free_port

from tests.roles.standins import OPENAPI, StandIn
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ALPHA = "You have assess to the following apis"


def _wait_port(port: int, system: System, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        system._check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("a role service did not start:\n" + system.logs())


def _wait_pool(system: System, worker_type: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        system._check_alive()
        pools = {
            p["worker_type"]: p.get("replicas", 0) for p in system.http.get("/v1/workers").json()["pools"]
        }
        if pools.get(worker_type, 0) >= 1:
            return
        time.sleep(0.3)
    raise RuntimeError(f"worker-{worker_type} did not register:\n" + system.logs())


def test_alpha_umi_task_end_to_end(tmp_path):
    with StandIn() as api:
        (tmp_path / "weather.json").write_text(json.dumps(OPENAPI))
        (tmp_path / "registry.yaml").write_text(f"openapi: [{{spec: weather.json, base_url: '{api.url}'}}]\n")
        system = System(tmp_path / "sys", workers={}, env={"WF_ROLE_COMPLETION_API": "chat"}).start()
        try:
            addrs = {}
            for role in ("planner", "caller", "summarizer"):
                port = free_port()
                system.start_service(f"role-{role}", WF_GRPC_PORT=port)
                addrs[role] = f"127.0.0.1:{port}"
            for port in addrs.values():
                _wait_port(int(port.rsplit(":", 1)[1]), system)
            system.start_service(
                "worker-tool",
                WF_TOOL_REGISTRY=tmp_path / "registry.yaml",
                WF_TOOL_ROLE_ADDRS=",".join(f"{k}={v}" for k, v in addrs.items()),
            )
            _wait_pool(system, "tool")
            system.llm.script(
                [
                    {
                        "role": "planner",
                        "contains": ALPHA,
                        "times": 1,
                        "reply": {"content": "I need the weather API.\nNext: caller."},
                    },
                    {
                        "role": "caller",
                        "times": 1,
                        "reply": {"content": 'Action: city_weather\nAction Input: {"city": "Paris"}'},
                    },
                    {
                        "role": "planner",
                        "contains": ALPHA,
                        "times": 1,
                        "reply": {"content": "The API answered.\nNext: conclusion."},
                    },
                    {"role": "summarizer", "times": 1, "reply": {"content": "It is 21 degrees in Paris."}},
                ]
            )
            task = system.submit("What is the weather in Paris? Use the weather API. @tool")
            record = system.wait(task["task_id"], timeout=120)
            assert record["status"] == "TASK_STATUS_SUCCEEDED", system.logs()
            assert "It is 21 degrees in Paris." in json.dumps(record)
            assert ("GET", "/cities/Paris/weather", {}) in api.calls
            roles = [r["role"] for r in system.llm.requests()]
            assert roles.count("caller") == 1 and roles.count("summarizer") == 1
        finally:
            system.stop()
