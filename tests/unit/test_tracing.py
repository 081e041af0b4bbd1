"""core/tracing.py: off unless configured (no SDK import, no headers), W3C context in and out when on."""

import subprocess
import sys

import pytest

from workforce.core import tracing
from workforce.core.config import Settings


def test_off_by_default_adds_nothing_and_imports_no_sdk():
    code = ("import sys; from workforce.core import tracing; from workforce.core.config import Settings\n"
            "assert tracing.setup(Settings()) is False and not tracing.enabled()\n"
            "h = {'a': '1'}; tracing.inject(h); assert h == {'a': '1'}\n"
            "with tracing.span('x', parent={'traceparent': '00-' + '1' * 32 + '-' + '2' * 16 + '-01'}) as s:\n"
            "    s.set_attribute('k', 'v'); s.set_attributes({'k': 1})\n"
            "assert tracing.extract({'traceparent': 'x'}) is None\n"
            "app = object(); assert tracing.asgi(app) is app\n"
            "assert not [m for m in sys.modules if m.startswith('opentelemetry.sdk')], 'SDK imported while off'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_missing_sdk_leaves_tracing_off_with_a_warning():
    code = ("import sys; sys.modules['opentelemetry.sdk'] = None\n"
            "from workforce.core import tracing; from workforce.core.config import Settings\n"
            "assert tracing.setup(Settings(otlp_endpoint='http://127.0.0.1:4318')) is False\n"
            "assert not tracing.enabled()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "tracing stays off" in done.stderr


def test_traces_url():
    assert tracing.traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert tracing.traces_url("https://c/v1/traces") == "https://c/v1/traces"


def test_sample_ratio_is_bounded():
    with pytest.raises(ValueError):
        Settings(trace_sample_ratio=1.5)


@pytest.fixture
def on():
    pytest.importorskip("opentelemetry.sdk")
    from tests.support.otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start()
    assert tracing.setup(Settings(otlp_endpoint=receiver.url, service_name="unit"))
    yield receiver
    tracing.shutdown()
    receiver.stop()


def test_context_goes_out_in_headers_and_comes_back_as_the_parent(on):
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracing.span("consume", parent={"traceparent": caller}, kind="consumer",
                      attributes={"wf.task_id": "t", "empty": "", "none": None}) as span:
        context = span.get_span_context()
        assert format(context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert span.parent.span_id == 0x00f067aa0ba902b7
        assert dict(span.attributes) == {"wf.task_id": "t"}
        headers = {}
        tracing.inject(headers)
        with tracing.span("llm", kind="client") as child:
            assert child.parent.span_id == context.span_id
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (trace_id, int(span_id, 16), flags) == ("4bf92f3577b34da6a3ce929d0e0e4736", context.span_id, "01")
    # A message without trace context starts a new trace, whatever span is current.
    with tracing.span("outer"):
        with tracing.span("consume", parent={"Nats-Msg-Id": "x"}) as fresh:
            assert fresh.parent is None
    tracing.shutdown()  # exports what is buffered
    spans = {s.name: s for s in on.spans()}
    assert set(spans) == {"consume", "llm", "outer"} and {s.service for s in spans.values()} == {"unit"}
    assert spans["llm"].parent_id == format(context.span_id, "016x") and spans["llm"].kind == "client"


def test_remote_parent_only_with_a_traceparent(on):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.remote_parent({"traceparent": caller, "authorization": "Bearer x"}):
        with tracing.span("submit") as span:
            assert span.parent.span_id == 0xb7ad6b7169203331
    with tracing.remote_parent({"authorization": "Bearer x"}):
        with tracing.span("submit") as span:
            assert span.parent is None
