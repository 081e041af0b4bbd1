"""Prometheus metrics of the workers (every worker type). The dashboards and alert rules query these names
(tests/monitoring checks them)."""

from prometheus_client import Gauge, Histogram

from ..core.metrics import LATENCY_BUCKETS

SUBTASK_DURATION = Histogram(
    "workforce_subtask_duration_seconds", "Subtask run time on a worker", ["worker_type", "status"],
    buckets=LATENCY_BUCKETS,
)
WORKER_BUSY = Gauge("workforce_worker_busy", "Subtasks running on this worker replica", ["worker_type"])
WORKER_CAPACITY = Gauge("workforce_worker_capacity", "Concurrent subtasks this replica accepts", ["worker_type"])
