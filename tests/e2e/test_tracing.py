"""Traces: every service as its own process exports OTLP/HTTP to a receiver the test starts; one task is one trace
from the gateway's submit through the planner, the coordinator and a worker, with the model calls as child spans."""

import time

import grpc
import pytest

from tests.support.system import API_KEY, System
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytest.importorskip("opentelemetry.sdk", reason="the tracing extra is not installed")
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402

pytestmark = pytest.mark.e2e

TWO = "Collect the facts. SUBTASKS:\n- find alpha @echo\n- combine alpha after:1"
SERVICES = {"gateway", "planner", "coordinator", "worker-echo"}


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    receiver = OtlpReceiver().start()
    system = System(tmp_path_factory.mktemp("traced"), workers={"echo": 1},
                    env={"WF_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"})
    system.start()
    yield system, receiver
    system.stop()
    receiver.stop()


def whole_trace(receiver: OtlpReceiver, trace_id: str, timeout: float = 20, quiet_s: float = 1.5):
    """The trace's spans once every service has sent its part, every parent has arrived and nothing new came for
    quiet_s (services export every 100 ms)."""
    deadline, count, changed = time.time() + timeout, -1, time.time()
    while True:
        spans = receiver.spans(trace_id)
        if len(spans) != count:
            count, changed = len(spans), time.time()
        ids = {s.span_id for s in spans}
        roots = [s for s in spans if not s.parent_id or s.parent_id not in ids]
        done = {s.service for s in spans} >= SERVICES and len(roots) == 1 and time.time() - changed > quiet_s
        if done or time.time() > deadline:
            return spans, roots
        time.sleep(0.2)


def submit_span(receiver: OtlpReceiver, task_id: str, timeout: float = 10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [s for s in receiver.spans() if s.name == "submit task" and s.attributes.get("wf.task_id") == task_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no submit span for {task_id}: {[s.name for s in receiver.spans()]}")


def test_one_trace_from_submit_through_planner_coordinator_and_worker(traced):
    system, receiver = traced
    task_id = system.submit(TWO)["task_id"]
    record = system.wait(task_id)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record

    root = submit_span(receiver, task_id)
    assert root.service == "gateway" and root.kind == "server" and not root.parent_id
    spans, roots = whole_trace(receiver, root.trace_id)
    assert roots == [root], f"spans whose parent is missing: {[(s.service, s.name) for s in roots]}"
    by_id = {s.span_id: s for s in spans}
    assert {s.service for s in spans} >= SERVICES

    def parent(s):
        return by_id[s.parent_id]

    consumers = [s for s in spans if s.kind == "consumer"]
    assert consumers and all(s.attributes.get("wf.task_id") == task_id for s in consumers)
    assert all(s.attributes.get("messaging.system") == "nats" for s in consumers)
    # The planner's decompose request was published inside the submit span.
    planner = [s for s in consumers if s.service == "planner"]
    assert any(parent(s) is root for s in planner)
    # The coordinator handles what the planner and the workers sent; the workers what the coordinator sent.
    coordinator = [s for s in consumers if s.service == "coordinator"]
    assert any(parent(s).service == "planner" for s in coordinator)
    assert any(parent(s).service == "worker-echo" for s in coordinator)
    workers = [s for s in consumers if s.service == "worker-echo"]
    assert len(workers) >= 2 and all(parent(s).service == "coordinator" for s in workers)
    # The second subtask was dispatched by the coordinator when it handled the first one's result.
    assert any(parent(parent(s)).service == "worker-echo" for s in workers)

    # Each model call is a client span inside the message handler of the service that made it.
    llm = [s for s in spans if s.kind == "client" and s.name.startswith("chat ")]
    assert {s.service for s in llm} >= {"planner", "coordinator", "worker-echo"}
    for s in llm:
        assert parent(s).service == s.service and s.attributes["wf.task_id"] == task_id
        assert s.attributes["gen_ai.operation.name"] == "chat" and "gen_ai.usage.input_tokens" in s.attributes
    assert not any(s.error for s in spans)
    # …and the model server received the trace context too.
    calls = [r for r in system.llm.requests() if r["task"] == task_id]
    assert calls and all(r["traceparent"].split("-")[1] == root.trace_id for r in calls)


def test_grpc_submit_continues_the_callers_trace(traced):
    system, receiver = traced
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}") as channel:
        stub = gateway_pb2_grpc.WorkforceStub(channel)
        metadata = (("authorization", f"Bearer {API_KEY}"), ("traceparent", f"00-{trace_id}-{caller_span}-01"))
        response = stub.SubmitTask(gateway_pb2.SubmitTaskRequest(question="Say hi @echo"), metadata=metadata)
    assert system.wait(response.task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    root = submit_span(receiver, response.task_id)
    assert (root.trace_id, root.parent_id) == (trace_id, caller_span)
    spans, roots = whole_trace(receiver, trace_id)
    assert {s.service for s in spans} >= SERVICES
    assert roots == [root]


def test_http_submit_continues_the_callers_trace(traced):
    system, receiver = traced
    trace_id, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    response = system.http.post("/v1/tasks", json={"question": "Say hello @echo"},
                                headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
    assert response.status_code == 201, response.text
    task_id = response.json()["task_id"]
    assert system.wait(task_id)["status"] == "TASK_STATUS_SUCCEEDED"
    root = submit_span(receiver, task_id)
    assert (root.trace_id, root.parent_id) == (trace_id, caller_span)
