"""Prometheus metrics of code that several services run: LLM calls (core/llm) and tool calls (the workers' tool
loop and the α-UMi loop, which the tool worker and the role services run). Each service's own metrics are in its
folder (`gateway/metrics.py`, `coordinator/metrics.py`, `workers/metrics.py`, …), so a service exports only what it
counts. The dashboards and alert rules query these names."""

from prometheus_client import Counter, Histogram, start_http_server

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

LLM_REQUESTS = Counter("workforce_llm_requests_total", "LLM requests", ["role", "model", "outcome"])
LLM_LATENCY = Histogram(
    "workforce_llm_request_duration_seconds", "LLM request latency", ["role", "model"], buckets=LATENCY_BUCKETS
)
LLM_TOKENS = Counter("workforce_llm_tokens_total", "LLM tokens", ["role", "model", "kind"])
TOOL_CALLS = Counter("workforce_tool_calls_total", "Tool calls by workers", ["worker_type", "tool", "outcome"])


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Expose /metrics on its own port (0 disables it)."""
    if port:
        start_http_server(port, addr=host)
