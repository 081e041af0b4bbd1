"""Prometheus metrics of the gateway. The dashboards and alert rules query these names
(tests/monitoring checks them)."""

from prometheus_client import Counter

TASKS_SUBMITTED = Counter("workforce_tasks_submitted_total", "Tasks accepted by the gateway")
API_REQUESTS = Counter("workforce_api_requests_total", "Gateway API requests", ["api", "method", "code"])
