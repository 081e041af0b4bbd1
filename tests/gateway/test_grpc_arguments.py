"""The gRPC API refuses what the HTTP API refuses by its parameters' bounds: a request that names no task, a
listing's limit or status out of range (INVALID_ARGUMENT, saying what is allowed) — never OK with a quietly
changed value, never NOT_FOUND for a task that was never named."""

import grpc
import pytest

from tests.gateway.conftest import stored_record
from workforce.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc


def call(client, method: str, request):
    stub = gateway_pb2_grpc.WorkforceStub(client.grpc_channel)
    return getattr(stub, method)(request, metadata=client.metadata, timeout=30)


@pytest.mark.parametrize("method, request_", [
    ("GetTask", gateway_pb2.GetTaskRequest()),
    ("CancelTask", gateway_pb2.CancelTaskRequest(reason="x")),
    ("GetPlan", gateway_pb2.GetTaskRequest()),
    ("ListToolCalls", gateway_pb2.GetTaskRequest()),
    ("ApprovePlan", gateway_pb2.ApprovePlanRequest()),
    ("DecideToolCall", gateway_pb2.DecideToolCallRequest(call_id="c1", approve=True)),
])
def test_a_request_without_a_task_id_is_invalid(clients, method, request_):
    with pytest.raises(grpc.RpcError) as info:
        call(clients["alice"], method, request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "task_id is required"


def test_a_watch_without_a_task_id_is_invalid(clients):
    with pytest.raises(grpc.RpcError) as info:
        list(call(clients["alice"], "WatchTask", gateway_pb2.WatchTaskRequest()))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("fields, message", [
    ({"limit": -1}, "limit must be 1 to 500 (0: the default, 50), not -1"),
    ({"limit": 501}, "limit must be 1 to 500 (0: the default, 50), not 501"),
    ({"status": 999}, "status 999 is not a TaskStatus"),
])
def test_a_listing_out_of_range_is_invalid(clients, fields, message):
    with pytest.raises(grpc.RpcError) as info:
        call(clients["alice"], "ListTasks", gateway_pb2.ListTasksRequest(**fields))
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_a_listing_in_range_answers(clients):
    alice = clients["alice"]
    task_id = alice.submit("listed over grpc")
    for fields in ({}, {"limit": 500}, {"status": common_pb2.TASK_STATUS_UNSPECIFIED}):
        listed = call(alice, "ListTasks", gateway_pb2.ListTasksRequest(**fields))
        assert task_id in [t.task_id for t in listed.tasks], fields


def test_grpc_answers_without_the_internal_fields(system, clients):
    """As the HTTP API: the quota reservation and the files' object-store keys stay in the stored record."""
    slow = clients["slow"]        # an identity with an in-flight quota: its tasks hold a reservation
    submitted = call(slow, "SubmitTask", gateway_pb2.SubmitTaskRequest(
        question="SUBTASKS:\n- read it @echo", files=[gateway_pb2.InputFile(name="notes.txt", data=b"private")]))
    stored = stored_record(system, submitted.task_id)
    assert stored.quota_reserved and stored.files[0].object_key
    listed = call(slow, "ListTasks", gateway_pb2.ListTasksRequest()).tasks
    answers = {"submit": submitted.task,
               "get": call(slow, "GetTask", gateway_pb2.GetTaskRequest(task_id=submitted.task_id)),
               "list": next(t for t in listed if t.task_id == submitted.task_id)}
    for name, record in answers.items():
        assert not record.quota_reserved and record.files[0].name == "notes.txt", name
        assert not record.files[0].object_key and record.files[0].sha256 == stored.files[0].sha256, name
