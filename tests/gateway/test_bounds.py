"""Bounded inputs: body limits while streaming (chunked too) before parsing, text validation, from_seq in range,
watches of finished tasks that end, and listing in pages."""

import json
import socket
import time

import grpc
import httpx
import pytest

from tests.gateway.test_tenancy import sse_events, wait_status
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def chunks(total: int, size: int = MiB):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b" " * n


def test_chunked_bodies_are_cut_off_at_the_limit(system, clients):
    alice = clients["alice"]
    gateway = system.services["gateway"][0].pid
    before = rss_kib(gateway)
    started = time.time()
    # 300 MiB of chunked JSON (no Content-Length): refused after the first MiB, never buffered or parsed.
    try:
        response = alice.http.post("/v1/tasks", content=chunks(300 * MiB),
                                   headers={"Content-Type": "application/json"}, timeout=60)
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "too_large"
    except httpx.TransportError:
        pass    # the server answered 413 and closed while we were still sending: also a refusal
    assert time.time() - started < 30
    # 72 MiB of chunked multipart (three 24 MiB files): over the 60 MiB upload limit.
    boundary = "xBOUNDARYx"

    def multipart():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="question"\r\n\r\nread them\r\n').encode()
        for i in range(3):
            yield (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="f{i}.bin"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n").encode()
            yield from chunks(24 * MiB)
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    try:
        response = alice.http.post("/v1/tasks/upload", content=multipart(), timeout=60,
                                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert response.status_code == 413, response.text
    except httpx.TransportError:
        pass
    grown_mib = (rss_kib(gateway) - before) / 1024
    assert grown_mib < 150, f"the gateway grew by {grown_mib:.0f} MiB"
    # A declared Content-Length over the limit, and a request without a key, are refused before the body.
    assert alice.http.post("/v1/tasks", content=b"{" + b" " * (2 * MiB) + b"}",
                           headers={"Content-Type": "application/json"}).status_code == 413
    anonymous = httpx.post(f"http://127.0.0.1:{system.http_port}/v1/tasks/upload", content=b"x" * MiB,
                           headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated"
    # Nothing was written for any of them, and the gateway still works.
    assert alice.http.post("/v1/tasks", json={"question": "still fine"}).status_code == 201


def test_upload_within_the_limit_still_works(system, clients):
    response = clients["alice"].http.post("/v1/tasks/upload", data={"question": "size it"},
                                          files=[("files", ("big.bin", b"\0" * (3 * MiB), "application/octet-stream"))])
    assert response.status_code == 201, response.text
    assert response.json()["task"]["files"][0]["size"] == str(3 * MiB)


def test_strings_with_surrogates_or_control_characters_get_400(system, clients):
    alice = clients["alice"]
    cases = [
        '{"question": "lone \\ud800 surrogate"}',
        '{"question": "bell \\u0007 in it"}',
        '{"question": "nul \\u0000 in it"}',
        '{"question": "ok", "answer_format": "\\udfff"}',
        '{"question": "ok", "metadata": {"k\\ud800": "v"}}',
        '{"question": "ok", "metadata": {"k": "\\u001b[31m"}}',
        '{"question": "ok", "idempotency_key": "line\\nbreak"}',
    ]
    for raw in cases:
        response = alice.http.post("/v1/tasks", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (raw, response.text)
        assert response.json()["error"]["code"] == "invalid_argument"
    chat = alice.http.post("/v1/chat/completions", content='{"messages": [{"role": "user", "content": "\\ud83d"}]}',
                           headers={"Content-Type": "application/json"})
    assert chat.status_code == 400, chat.text
    ok = alice.http.post("/v1/tasks", json={"question": "tabs\tand\nnewlines and émoji 🙂 are fine"})
    assert ok.status_code == 201, ok.text
    task_id = ok.json()["task_id"]
    cancel = alice.http.post(f"/v1/tasks/{task_id}/cancel", content='{"reason": "\\ud800"}',
                             headers={"Content-Type": "application/json"})
    assert cancel.status_code == 400
    form = (b'--zz\r\nContent-Disposition: form-data; name="question"\r\n\r\nok\r\n'
            b'--zz\r\nContent-Disposition: form-data; name="files"; filename="bad\x01name.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\nx\r\n--zz--\r\n")   # httpx would percent-encode the name
    upload = alice.http.post("/v1/tasks/upload", content=form,
                             headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert upload.status_code == 400, upload.text
    stub = gateway_pb2_grpc.WorkforceStub(alice.grpc_channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="escape \x1b[2J"), metadata=alice.metadata)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_from_seq_is_validated_and_finished_watches_end(system, clients):
    alice = clients["alice"]
    task_id = alice.submit("a short one")
    assert wait_status(alice, task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    events = sse_events(alice, task_id)
    assert events[-1]["type"] == "task.succeeded"
    last = max(int(e["seq"]) for e in events)

    for bad in (2**64, -1, "x"):   # out of range or not a number: 400 (as every bad input), naming the field
        response = alice.http.get(f"/v1/tasks/{task_id}/events", params={"from_seq": bad})
        assert response.status_code == 400 and response.json()["error"]["param"] == "from_seq", response.text
    far = alice.http.get(f"/v1/tasks/{task_id}/events", params={"from_seq": 2**62})
    assert far.status_code == 400 and "past the end" in far.json()["error"]["message"]
    assert alice.http.get(f"/v1/tasks/{task_id}/events", headers={"Last-Event-ID": "nope"}).status_code == 400

    # Past the end of a finished task (but within the stream): ends at once with no events.
    started = time.time()
    assert sse_events(alice, task_id, from_seq=last + 1) == []
    assert time.time() - started < 1.5
    # From the middle: the rest, ending with the terminal event; resuming by Last-Event-ID likewise.
    middle = int(events[len(events) // 2]["seq"])
    rest = sse_events(alice, task_id, from_seq=middle)
    assert int(rest[0]["seq"]) == middle and rest[-1]["type"] == "task.succeeded"
    with alice.http.stream("GET", f"/v1/tasks/{task_id}/events", headers={"Last-Event-ID": str(last)}) as response:
        assert response.status_code == 200 and not [line for line in response.iter_lines() if line.startswith("data:")]

    stub = gateway_pb2_grpc.WorkforceStub(alice.grpc_channel)
    for seq in (2**64 - 1, 2**63):
        with pytest.raises(grpc.RpcError) as info:
            list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=task_id, from_seq=seq), metadata=alice.metadata))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    started = time.time()
    assert list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=task_id, from_seq=last + 1),
                               metadata=alice.metadata)) == []
    assert time.time() - started < 1.5
    assert list(stub.WatchTask(gateway_pb2.WatchTaskRequest(task_id=task_id), metadata=alice.metadata))[-1].type \
        == "task.succeeded"


def test_listing_is_paginated_newest_first(system, clients):
    carol, bob, ops = clients["carol"], clients["bob"], clients["ops"]
    mine = [carol.submit(f"page item {i}") for i in range(7)]
    seen, token, pages = [], "", 0
    while True:
        response = carol.http.get("/v1/tasks", params={"limit": 3, "page_token": token})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [t["task_id"] for t in body["tasks"]]
        pages += 1
        token = body["next_page_token"]
        if not token:
            break
        # Another tenant cannot use carol's token to read her tasks.
        assert bob.http.get("/v1/tasks", params={"limit": 3, "page_token": token}).status_code == 400
    assert seen[:7] == list(reversed(mine)) and len(seen) == len(set(seen)) and pages >= 3
    assert carol.http.get("/v1/tasks", params={"page_token": "not-a-token"}).status_code == 400
    # Over gRPC, with a status filter.
    stub = gateway_pb2_grpc.WorkforceStub(carol.grpc_channel)
    page = stub.ListTasks(gateway_pb2.ListTasksRequest(limit=2), metadata=carol.metadata)
    assert [t.task_id for t in page.tasks] == [mine[6], mine[5]] and page.next_page_token
    after = stub.ListTasks(gateway_pb2.ListTasksRequest(limit=2, page_token=page.next_page_token),
                           metadata=carol.metadata)
    assert [t.task_id for t in after.tasks] == [mine[4], mine[3]]
    with pytest.raises(grpc.RpcError) as info:
        stub.ListTasks(gateway_pb2.ListTasksRequest(page_token="%%%"), metadata=carol.metadata)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The admin pages through everyone's tasks.
    first = ops.http.get("/v1/tasks", params={"limit": 2}).json()
    second = ops.http.get("/v1/tasks", params={"limit": 2, "page_token": first["next_page_token"]}).json()
    assert [t["task_id"] for t in first["tasks"]] == [mine[6], mine[5]]
    assert [t["task_id"] for t in second["tasks"]] == [mine[4], mine[3]]


def test_grpc_bad_bytes_and_http_garbage_on_a_raw_socket(system, clients):
    """Requests no client library would send: the server answers 4xx and keeps serving."""
    for raw in (b"GET /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-alice\r\n"
                b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-alice\r\n"
                b"Content-Type: application/json\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00{]"):
        with socket.create_connection(("127.0.0.1", system.http_port), timeout=10) as sock:
            sock.sendall(raw)
            status = sock.recv(4096).split(b"\r\n", 1)[0]
            assert status.split()[1].startswith(b"4"), status
    assert clients["alice"].http.get("/v1/tasks").status_code == 200
    assert json.loads(clients["alice"].http.get("/v1/tasks").text)["tasks"]
