"""Every PromQL expression of the dashboards, alert rules and KEDA queries parses and queries only metrics the
services (core/metrics.py) or vLLM export; promtool accepts the rules."""

import subprocess

import yaml

from tests.chart.helm import tool
from tests.monitoring.queries import (
    all_queries,
    allowed_names,
    dashboard_queries,
    dashboards,
    metric_names,
    rendered_rules,
)


def test_every_expression_queries_exported_metrics():
    allowed = allowed_names()
    queries = all_queries()
    assert len(queries) > 40
    unknown = {}
    for where, expr in queries:
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr}"
        if names - allowed:
            unknown[where] = sorted(names - allowed)
    assert not unknown, f"queries of metrics nobody exports: {unknown}"


def test_a_misspelled_metric_is_caught():
    assert metric_names(
        'sum(rate(workforce_task_totals{status="failed"}[$__rate_interval]))'
    ) - allowed_names() == {"workforce_task_totals"}


def test_dashboards_cover_tasks_subtasks_llm_queues_workers_and_vllm():
    used = {}
    for board, _title, expr in dashboard_queries():
        used.setdefault(board, set()).update(metric_names(expr))
    assert {
        "workforce_tasks_submitted_total",
        "workforce_tasks_total",
        "workforce_task_duration_seconds_bucket",
        "workforce_subtasks_total",
        "workforce_replans_total",
    } <= used["tasks.json"]
    assert {
        "workforce_llm_tokens_total",
        "workforce_llm_request_duration_seconds_bucket",
        "workforce_llm_requests_total",
    } <= used["llm.json"]
    assert {"workforce_queue_depth", "workforce_worker_capacity", "workforce_worker_busy"} <= used[
        "workers.json"
    ]
    assert all(name.startswith("vllm:") for name in used["vllm.json"]) and len(used["vllm.json"]) >= 8
    quantiles = [e for b, _, e in dashboard_queries() if b == "tasks.json" and "task_duration" in e]
    assert {"histogram_quantile(0.5", "histogram_quantile(0.95", "histogram_quantile(0.99"} <= {
        q.split(",")[0] for q in quantiles
    }
    for board in dashboards().values():
        assert board["uid"].startswith("workforce-") and board["panels"]
        assert all(p["datasource"]["uid"] == "${datasource}" for p in board["panels"])


def test_promtool_checks_the_rendered_rules(tmp_path):
    groups = rendered_rules()
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in done.stdout
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert {
        "WorkforceTaskFailureRateHigh",
        "WorkforceQueueLagHigh",
        "WorkforceDeadLetters",
        "WorkforceSandboxBusy",
        "WorkforceLLMErrorRateHigh",
    } <= alerts


def test_promtool_rejects_a_broken_rule(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "Bad", "expr": "sum(rate(x[5m])"}]}]})
    )
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
