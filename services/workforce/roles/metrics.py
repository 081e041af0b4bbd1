"""Prometheus metrics of the role services (the LLM calls themselves are counted by core/llm)."""

from prometheus_client import Counter, Histogram

ROLE_REQUESTS = Counter(
    "workforce_role_generate_total",
    "Role Generate calls by role, prompt family and outcome",
    ["role", "family", "outcome"],  # outcome: ok | invalid_output | bad_request | backend_error
)
ROLE_ATTEMPTS = Histogram(
    "workforce_role_generate_attempts",
    "Model attempts per successful Generate",
    ["role"],
    buckets=(1, 2, 3, 4, 5, 8),
)
