"""NATS down: every surface answers 503 / UNAVAILABLE with Retry-After (never 500), open event streams survive,
and the gateway logs no unhandled exception; when NATS returns, everything carries on."""

import json
import threading
import time

import grpc
import httpx
import pytest

from tests.gateway.conftest import UNHANDLED_MARKERS, gateway_log
from tests.support.system import API_KEY, System
from workforce.local.nats_server import NatsServer
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def outage_system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("outage"), workers={"echo": 1})
    s.start()
    yield s
    s.stop()


def test_nats_outage_answers_503_and_streams_survive(outage_system):
    system = outage_system
    system.llm.script([{"role": "worker:echo", "contains": "take a nap",
                        "reply": {"tool_calls": [{"name": "wait", "arguments": {"seconds": 6}}]}, "times": 1}])
    task_id = system.submit("SUBTASKS:\n- take a nap @echo")["task_id"]
    streamed: list[dict] = []
    stream_error: list[BaseException] = []

    def follow():
        try:
            with httpx.stream("GET", f"http://127.0.0.1:{system.http_port}/v1/tasks/{task_id}/events",
                              headers={"Authorization": f"Bearer {API_KEY}"}, timeout=90) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        streamed.append(json.loads(line[5:]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            stream_error.append(exc)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    deadline = time.time() + 30
    while not any(e["type"] == "subtask.started" for e in streamed) and time.time() < deadline:
        time.sleep(0.1)
    assert any(e["type"] == "subtask.started" for e in streamed), streamed
    log_start = len(gateway_log(system))

    port, store = system.nats.port, system.nats.store_dir
    system.nats.stop()
    time.sleep(0.5)
    http = system.http
    responses = {
        "list": http.get("/v1/tasks"),
        "get": http.get(f"/v1/tasks/{task_id}"),
        "plan": http.get(f"/v1/tasks/{task_id}/plan"),
        "events": http.get(f"/v1/tasks/{task_id}/events"),
        "submit": http.post("/v1/tasks", json={"question": "during the outage"}),
        "cancel": http.post(f"/v1/tasks/{task_id}/cancel"),
        "chat": http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}),
        "workers": http.get("/v1/workers"),
        "readyz": http.get("/readyz"),
    }
    for name, response in responses.items():
        assert response.status_code == 503, (name, response.text)
        assert response.json()["error"]["code"] == "unavailable" and int(response.headers["Retry-After"]) > 0, name
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        metadata = (("authorization", f"Bearer {API_KEY}"),)
        for call in (lambda: stub.GetTask(gateway_pb2.GetTaskRequest(task_id=task_id), metadata=metadata),
                     lambda: stub.ListTasks(gateway_pb2.ListTasksRequest(), metadata=metadata),
                     lambda: list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=task_id), metadata=metadata)),
                     lambda: stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="x"), metadata=metadata)):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert int(dict(info.value.trailing_metadata())["retry-after"]) > 0

    system.nats = NatsServer(store_dir=store, port=port).start()
    deadline = time.time() + 30
    while system.http.get("/readyz").status_code != 200 and time.time() < deadline:   # reconnecting
        time.sleep(0.2)
    record = system.wait(task_id, timeout=90)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    follower.join(60)
    assert not stream_error, stream_error
    assert streamed[-1]["type"] == "task.succeeded"        # the open stream rode out the outage
    assert system.http.get("/readyz").status_code == 200
    assert system.submit("after the outage")["created"]
    log = gateway_log(system)[log_start:]
    assert not [m for m in UNHANDLED_MARKERS if m in log], log[-5000:]
