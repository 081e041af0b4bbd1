"""OpenTelemetry traces, exported over OTLP/HTTP when WF_OTLP_ENDPOINT is set; otherwise off at near-zero cost.

One trace per task: the gateway's submit span is the root (or the child of a caller's W3C `traceparent`); every
message published on the channel carries the current span's context in its NATS headers (`traceparent`,
`tracestate`), each consumer handles a message inside a span whose parent is that context, and every LLM call
is a client span of whatever handles the message. The OpenTelemetry SDK is imported only when tracing is
configured, so images and virtual environments without the `tracing` extra run unchanged (tracing stays off).

    tracing.setup(settings)                      # once per process (core/runtime.py)
    tracing.inject(headers)                      # into an outgoing NATS / HTTP headers dict
    with tracing.span("process wf.work.echo", parent=msg.headers, kind="consumer", attributes={...}) as s:
        ...; s.set_attribute("k", "v")
"""

import contextlib
import logging
import os

log = logging.getLogger(__name__)

_tracer = None        # an SDK Tracer while tracing is on; None = off
_provider = None
_propagator = None
_context_api = None
_kinds: dict = {}


class _NoSpan:
    """What `span()` yields while tracing is off: accepts everything, records nothing."""

    def set_attribute(self, key, value) -> None:
        pass

    def set_attributes(self, attributes) -> None:
        pass

    def record_exception(self, exception, attributes=None) -> None:
        pass

    def is_recording(self) -> bool:
        return False


_NO_SPAN = _NoSpan()
_OFF = contextlib.nullcontext(_NO_SPAN)   # reusable: entering it costs one method call


def enabled() -> bool:
    return _tracer is not None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (`http://collector:4318` → …/v1/traces)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def setup(settings) -> bool:
    """Turn tracing on for this process when WF_OTLP_ENDPOINT is set; True when it is on."""
    global _tracer, _provider, _propagator, _context_api, _kinds
    if not settings.otlp_endpoint or _tracer is not None:
        return _tracer is not None
    try:
        from opentelemetry import context as context_api
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError as exc:
        log.warning("WF_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed (pip install "
                    "'workforce[tracing]'): tracing stays off (%s)", exc)
        return False
    resource = Resource.create({
        "service.name": settings.service_name,
        "service.namespace": "workforce",
        "service.instance.id": settings.instance_id or f"{settings.service_name}-{os.getpid()}",
    })
    ratio = min(1.0, max(0.0, settings.trace_sample_ratio))
    _provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(ratio)))
    # The exporter also honours the standard OTEL_EXPORTER_OTLP_* headers/timeout/compression variables and the
    # batch processor OTEL_BSP_* (schedule delay, queue size).
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))))
    _tracer = _provider.get_tracer("workforce")
    _propagator = TraceContextTextMapPropagator()
    _context_api = context_api
    _kinds = {"internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT,
              "producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER}
    log.info("tracing on: OTLP/HTTP to %s (sample ratio %g)", traces_url(settings.otlp_endpoint), ratio)
    return True


def shutdown() -> None:
    """Export what is still buffered and turn tracing off (at process exit)."""
    global _tracer, _provider
    if _provider is not None:
        with contextlib.suppress(Exception):
            _provider.shutdown()
    _tracer = _provider = None


def inject(headers: dict) -> None:
    """Add the current span's W3C trace context (`traceparent`, `tracestate`) to an outgoing headers dict."""
    if _tracer is not None:
        _propagator.inject(headers)


def extract(headers):
    """The remote parent context carried by incoming headers (a dict-like; None = none)."""
    if _tracer is None:
        return None
    return _propagator.extract(headers or {})


def span(name: str, *, parent=None, kind: str = "internal", attributes: dict | None = None):
    """A context manager: a span made current for its block, yielding it (a no-op object while tracing is off).

    parent: the headers of a received message or request; its trace context becomes the parent (a message
    without one starts a new trace). None = the current span. An exception leaving the block is recorded on the
    span and marks it as an error.
    """
    if _tracer is None:
        return _OFF
    context = _propagator.extract(parent) if parent is not None else None
    if attributes:
        attributes = {k: v for k, v in attributes.items() if v is not None and v != ""}
    return _tracer.start_as_current_span(name, context=context, kind=_kinds[kind], attributes=attributes)


@contextlib.contextmanager
def _remote(headers):
    token = _context_api.attach(_propagator.extract(headers))
    try:
        yield
    finally:
        _context_api.detach(token)


def remote_parent(headers):
    """Make a caller's trace context (incoming request headers/metadata) current for the block, when it sent
    one; the spans started inside become children of the caller's span."""
    if _tracer is None or not headers or "traceparent" not in headers:
        return _OFF
    return _remote(headers)


def asgi(app):
    """Wrap an ASGI app so that an HTTP request's `traceparent` header is the parent of the spans it starts;
    the app itself while tracing is off."""
    if _tracer is None:
        return app

    async def traced(scope, receive, send):
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or ()
                   if k in (b"traceparent", b"tracestate")}
        with remote_parent(headers):
            return await app(scope, receive, send)

    return traced
