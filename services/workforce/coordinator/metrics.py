"""Prometheus metrics of the coordinator. The dashboards and alert rules query these names
(tests/monitoring checks them)."""

from prometheus_client import Counter, Gauge, Histogram

from ..core.metrics import LATENCY_BUCKETS

TASKS_FINISHED = Counter("workforce_tasks_total", "Tasks that reached a terminal status", ["status"])
TASK_DURATION = Histogram(
    "workforce_task_duration_seconds", "Submit-to-end latency of tasks", ["status"], buckets=LATENCY_BUCKETS
)
SUBTASKS = Counter("workforce_subtasks_total", "Subtask results by worker type and status", ["worker_type", "status"])
REPLANS = Counter("workforce_replans_total", "Replans requested by the coordinator")
DEAD_LETTERS = Counter("workforce_dead_letters_total", "Work items that exhausted their deliveries", ["worker_type"])
QUEUE_DEPTH = Gauge("workforce_queue_depth", "Pending + ack-pending messages on a consumer", ["consumer"])
