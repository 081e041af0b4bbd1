"""Fuzzing the gateway in the suite: schemathesis against its OpenAPI document (authenticated with a valid key),
and malformed protobuf bytes on every gRPC method. No 5xx, responses as documented, and no unhandled
exception in the gateway's log."""

import random

import grpc
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.conftest import KEYS, UNHANDLED_MARKERS, gateway_log
from workforce.gateway.grpc_api import SERVICE
from workforce.v1 import gateway_pb2

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {KEYS['fuzz']}"}
EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def log_start(system):
    return len(gateway_log(system))


def test_openapi_fuzz(system, log_start):
    """Every operation of the OpenAPI document, a few bounded examples each (valid and invalid by the schema).
    (schemathesis' pytest plugin does not run under this pytest, so the operations are driven directly.)"""
    document = httpx.get(f"http://127.0.0.1:{system.http_port}/openapi.json").json()
    api = schemathesis.openapi.from_dict(document)
    api.config.update(base_url=f"http://127.0.0.1:{system.http_port}")
    failures, operations = [], 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def fuzz(case):
            case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=30)

        try:
            fuzz()
        except Exception as exc:  # one operation's failure must not hide another's
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)


def _valid_requests() -> dict[str, bytes]:
    return {
        "SubmitTask": gateway_pb2.SubmitTaskRequest(question="fuzz me", metadata={"k": "v"},
                                                    files=[gateway_pb2.InputFile(name="a.txt", data=b"x")],
                                                    idempotency_key="fuzz").SerializeToString(),
        "GetTask": gateway_pb2.GetTaskRequest(task_id="t0000000000000000000000000z").SerializeToString(),
        "GetPlan": gateway_pb2.GetTaskRequest(task_id="t0000000000000000000000000z").SerializeToString(),
        "ListTasks": gateway_pb2.ListTasksRequest(limit=3, status=5, page_token="czE").SerializeToString(),
        "WatchTask": gateway_pb2.WatchTaskRequest(task_id="t0000000000000000000000000z",
                                                  from_seq=7).SerializeToString(),
        "CancelTask": gateway_pb2.CancelTaskRequest(task_id="t0000000000000000000000000z",
                                                    reason="why").SerializeToString(),
        "ListWorkers": b"",
        "ApprovePlan": gateway_pb2.ApprovePlanRequest(
            task_id="t0000000000000000000000000z", plan_version=0, comment="ok", subtasks=[
                gateway_pb2.PlanEditSubtask(subtask_id="1", content="do it", worker_type="echo",
                                            dependencies=["2"])]).SerializeToString(),
        "RejectPlan": gateway_pb2.RejectPlanRequest(task_id="t0000000000000000000000000z", plan_version=1,
                                                    reason="too broad").SerializeToString(),
        "ListToolCalls": gateway_pb2.GetTaskRequest(task_id="t0000000000000000000000000z").SerializeToString(),
        "DecideToolCall": gateway_pb2.DecideToolCallRequest(
            task_id="t0000000000000000000000000z", call_id="1.1.1.0123456789ab", approve=False,
            reason="no").SerializeToString(),
    }


def _corpus(valid: bytes, rng: random.Random) -> list[bytes]:
    out = [b"\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x05\xff\xfe\xfd\xfc\xfb",    # bad length, bad UTF-8
           b"\x08" + b"\xff" * 11, b"\x12\x80\x80\x80\x80\x10", b"\x0b\x0c", b"\x78",   # varint overflow, groups
           b"\x0a\x02\xed\xa0",                                                           # a UTF-8 surrogate
           b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",                              # uint64 max as from_seq
           b"\x0a" + bytes([27]) + b"t0000000000000000000000000\x00"]
    out += [rng.randbytes(rng.randint(1, 64)) for _ in range(25)]
    for _ in range(25):
        if not valid:
            break
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out.append(bytes(mutated[: rng.randint(0, len(mutated))]))
    return out


def test_malformed_protobuf_on_every_grpc_method(system):
    rng = random.Random(11)
    metadata = (("authorization", f"Bearer {KEYS['fuzz']}"),)
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
               grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.RESOURCE_EXHAUSTED}
    seen: dict[str, set] = {}
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        for method in SERVICE.methods:
            path = f"/{SERVICE.full_name}/{method.name}"
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
            call = factory(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            for payload in _corpus(_valid_requests()[method.name], rng):
                try:
                    result = call(payload, metadata=metadata, timeout=20)
                    if method.server_streaming:
                        list(result)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as exc:
                    code = exc.code()
                    assert code in allowed, (method.name, payload, code, exc.details())
                seen.setdefault(method.name, set()).add(code)
    assert set(seen) == {m.name for m in SERVICE.methods}
    assert all(grpc.StatusCode.INVALID_ARGUMENT in codes for name, codes in seen.items() if name != "ListWorkers")


def test_the_gateway_logged_no_unhandled_exception(system, log_start):
    """Runs after the fuzzers above (pytest keeps file order)."""
    log = gateway_log(system)[log_start:]
    found = [marker for marker in UNHANDLED_MARKERS if marker in log]
    assert not found, log[-5000:]
    assert system.services["gateway"][0].alive()
