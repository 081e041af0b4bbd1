"""Prometheus metrics shared by every service. The dashboards and alert rules query these names."""

from prometheus_client import Counter, Gauge, Histogram, start_http_server

_LATENCY = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

TASKS_SUBMITTED = Counter("workforce_tasks_submitted_total", "Tasks accepted by the gateway")
TASKS_FINISHED = Counter("workforce_tasks_total", "Tasks that reached a terminal status", ["status"])
TASK_DURATION = Histogram(
    "workforce_task_duration_seconds", "Submit-to-end latency of tasks", ["status"], buckets=_LATENCY
)
SUBTASKS = Counter("workforce_subtasks_total", "Subtask results by worker type and status", ["worker_type", "status"])
SUBTASK_DURATION = Histogram(
    "workforce_subtask_duration_seconds", "Subtask run time on a worker", ["worker_type", "status"], buckets=_LATENCY
)
REPLANS = Counter("workforce_replans_total", "Replans requested by the coordinator")
DEAD_LETTERS = Counter("workforce_dead_letters_total", "Work items that exhausted their deliveries", ["worker_type"])
LLM_REQUESTS = Counter("workforce_llm_requests_total", "LLM requests", ["role", "model", "outcome"])
LLM_LATENCY = Histogram(
    "workforce_llm_request_duration_seconds", "LLM request latency", ["role", "model"], buckets=_LATENCY
)
LLM_TOKENS = Counter("workforce_llm_tokens_total", "LLM tokens", ["role", "model", "kind"])
QUEUE_DEPTH = Gauge("workforce_queue_depth", "Pending + ack-pending messages on a consumer", ["consumer"])
WORKER_BUSY = Gauge("workforce_worker_busy", "Subtasks running on this worker replica", ["worker_type"])
WORKER_CAPACITY = Gauge("workforce_worker_capacity", "Concurrent subtasks this replica accepts", ["worker_type"])
TOOL_CALLS = Counter("workforce_tool_calls_total", "Tool calls by workers", ["worker_type", "tool", "outcome"])
API_REQUESTS = Counter("workforce_api_requests_total", "Gateway API requests", ["api", "method", "code"])


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Expose /metrics on its own port (0 disables it)."""
    if port:
        start_http_server(port, addr=host)
