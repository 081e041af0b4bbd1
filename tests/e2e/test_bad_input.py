"""Bad input gets a clear 4xx JSON error or gRPC status, and nothing is written to the channel."""

import asyncio

import grpc
import httpx
import nats
import pytest

from tests.support.system import API_KEY
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


def channel_counts(url: str) -> tuple[int, int, int]:
    async def read():
        nc = await nats.connect(url)
        js = nc.jetstream()
        control = (await js.stream_info("WF_CONTROL")).state.messages
        events = (await js.stream_info("WF_EVENTS")).state.messages
        tasks = (await js.stream_info("KV_wf-tasks")).state.messages
        await nc.close()
        return control, events, tasks

    return asyncio.run(read())


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["message"]
    return body["error"]


def test_http_bad_input_is_rejected_without_writing(system):
    before = channel_counts(system.nats.url)
    http = system.http
    assert error_of(http.post("/v1/tasks", json={"question": "   "}), 400)["code"] == "invalid_argument"
    assert error_of(http.post("/v1/tasks", json={"question": "x" * 20_001}), 413)["code"] == "too_large"
    assert error_of(http.post("/v1/tasks", content=b'{"question": "unterminated',
                              headers={"Content-Type": "application/json"}), 400)["code"] == "invalid_json"
    assert error_of(http.post("/v1/tasks", json={"question": 42}), 400)["param"] == "question"
    assert error_of(http.post("/v1/tasks", json={"question": "ok", "timeout_s": -5}), 400)
    assert error_of(http.post("/v1/tasks", json={"question": "ok", "metadata": {f"k{i}": "v" for i in range(40)}}),
                    400)
    assert error_of(http.post("/v1/tasks", json={"question": "ok"}, headers={"Authorization": "Bearer wrong"}),
                    401)["code"] == "unauthenticated"
    anonymous = httpx.post(f"http://127.0.0.1:{system.http_port}/v1/tasks", json={"question": "ok"})
    assert error_of(anonymous, 401)["code"] == "unauthenticated"
    big = httpx.post(f"http://127.0.0.1:{system.http_port}/v1/tasks", content=b"x" * (61 * 1024 * 1024),
                     headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
    assert error_of(big, 413)["code"] == "too_large"
    files = [("files", (f"f{i}.txt", b"data", "text/plain")) for i in range(11)]
    assert error_of(http.post("/v1/tasks/upload", data={"question": "read them"}, files=files), 413)
    # the workers know a task's files by name: two of one name (folders aside) would hide one of them
    for names in (["a.txt", "a.txt"], ["in/a.txt", "../a.txt"]):
        twice = [("files", (name, f"data {i}".encode(), "text/plain")) for i, name in enumerate(names)]
        dup = error_of(http.post("/v1/tasks/upload", data={"question": "read them"}, files=twice), 400)
        assert "two files are named 'a.txt'" in dup["message"]
    assert "names no file" in error_of(http.post("/v1/tasks/upload", data={"question": "read it"},
                                                 files=[("files", ("docs/..", b"x", "text/plain"))]), 400)["message"]
    assert error_of(http.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]}),
                    400)["type"] == "invalid_request_error"
    # OpenAI's shape on its routes: 400 (not 422) for a malformed request, with the field at fault
    missing = error_of(http.post("/v1/chat/completions", json={"model": "workforce"}), 400)
    assert (missing["type"], missing["param"], missing["code"]) == ("invalid_request_error", "messages",
                                                                     "invalid_argument")
    assert error_of(http.post("/v1/chat/completions", json={"messages": []}), 400)["param"] == "messages"
    hello = [{"role": "user", "content": "hi"}]
    for field, value in (("stream", "yes"), ("n", 3), ("temperature", 99)):   # said, not ignored or guessed
        refused = http.post("/v1/chat/completions", json={"messages": hello, field: value})
        assert error_of(refused, 400)["param"] == field
    refused = httpx.post(f"http://127.0.0.1:{system.http_port}/v1/chat/completions", json={"messages": []})
    assert error_of(refused, 401)["type"] == "authentication_error"
    assert error_of(http.get("/v1/tasks/t00000000000000000000000000"), 404)["code"] == "not_found"
    assert error_of(http.get("/v1/tasks/../../etc"), 404)
    assert error_of(http.post("/v1/tasks/tzzzzzzzzzzzzzzzzzzzzzzzzzz/cancel"), 404)
    assert "one of: queued, planning," in error_of(http.get("/v1/tasks", params={"status": "sleeping"}), 400)["message"]
    assert len(error_of(http.get("/v1/tasks/t" + "z" * 5000), 404)["message"]) < 100   # the id quoted, cut short
    assert channel_counts(system.nats.url) == before
    # Health and metrics need no key.
    assert httpx.get(f"http://127.0.0.1:{system.http_port}/healthz").status_code == 200


def test_grpc_bad_input_gets_clear_status_codes(system):
    before = channel_counts(system.nats.url)
    auth = (("authorization", f"Bearer {API_KEY}"),)
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        cases = [
            (lambda: stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question=""), metadata=auth),
             grpc.StatusCode.INVALID_ARGUMENT),
            (lambda: stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="y" * 20_001), metadata=auth),
             grpc.StatusCode.INVALID_ARGUMENT),
            (lambda: stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="hi")), grpc.StatusCode.UNAUTHENTICATED),
            (lambda: stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="hi"),
                                     metadata=(("x-api-key", "nope"),)), grpc.StatusCode.UNAUTHENTICATED),
            (lambda: stub.GetTask(gateway_pb2.GetTaskRequest(task_id="missing"), metadata=auth),
             grpc.StatusCode.NOT_FOUND),
            (lambda: list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id="missing"), metadata=auth)),
             grpc.StatusCode.NOT_FOUND),
        ]
        for call, code in cases:
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == code, info.value.details()
            assert info.value.details()
        raw = channel.unary_unary("/workforce.v1.Workforce/SubmitTask", request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as info:
            raw(b"\x0a\xff\xff\xff\xff\x0f garbage", metadata=auth)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "malformed" in info.value.details()
    assert channel_counts(system.nats.url) == before
