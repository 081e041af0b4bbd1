"""An OTLP/HTTP trace receiver for tests: decodes `ExportTraceServiceRequest` protobufs (the wire format of
OTLP/HTTP, as a collector receives it) posted to /v1/traces and keeps every span.

    receiver = OtlpReceiver().start()      # receiver.url → WF_OTLP_ENDPOINT of every service
    spans = receiver.spans()               # [Span(service, trace_id, span_id, parent_id, name, kind, attributes)]
"""

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

KINDS = {trace_pb2.Span.SPAN_KIND_INTERNAL: "internal", trace_pb2.Span.SPAN_KIND_SERVER: "server",
         trace_pb2.Span.SPAN_KIND_CLIENT: "client", trace_pb2.Span.SPAN_KIND_PRODUCER: "producer",
         trace_pb2.Span.SPAN_KIND_CONSUMER: "consumer"}


@dataclass
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict = field(default_factory=dict)
    error: bool = False


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class OtlpReceiver:
    def __init__(self):
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or "protobuf" not in (self.headers.get("Content-Type") or ""):
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._add(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _add(self, request) -> None:
        out = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    out.append(Span(service=resource.get("service.name", ""), trace_id=s.trace_id.hex(),
                                    span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex(), name=s.name,
                                    kind=KINDS.get(s.kind, str(s.kind)),
                                    attributes={a.key: _value(a.value) for a in s.attributes},
                                    error=s.status.code == trace_pb2.Status.STATUS_CODE_ERROR))
        with self._lock:
            self._spans.extend(out)
            self.requests += 1

    def spans(self, trace_id: str = "") -> list[Span]:
        with self._lock:
            return [s for s in self._spans if not trace_id or s.trace_id == trace_id]

    def start(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
