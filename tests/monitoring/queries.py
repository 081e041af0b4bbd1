"""Every PromQL expression the chart ships (dashboards, alert rules, KEDA queries) and the metric names that
exist: what the services export (METRIC_MODULES) and vLLM's `vllm:` metrics."""

import importlib
import json
import re
from functools import lru_cache

import promql_parser
from prometheus_client.metrics import MetricWrapperBase

from tests.chart.helm import CHART, by_kind, render

# vLLM's metrics the dashboards may use (REFERENCE.md: names with the `vllm:` prefix and a model_name label).
VLLM_GAUGES = {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"}
VLLM_COUNTERS = {"vllm:prompt_tokens_total", "vllm:generation_tokens_total"}
VLLM_HISTOGRAMS = {
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Where the services define their metrics: shared code's in core, each service's own in its folder.
METRIC_MODULES = ("core.metrics", "gateway.metrics", "coordinator.metrics", "workers.metrics", "workers.netguard",
                  "roles.metrics", "sandbox.service")
# Grafana's variables, as a query sent by Grafana would have them.
GRAFANA_VARS = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$namespace": ".*",
    "$model_name": ".*",
}


def workforce_families() -> dict[str, str]:
    """Metric family name → type, as the services export them (HELP/TYPE lines)."""
    out = {}
    for module in METRIC_MODULES:
        for value in vars(importlib.import_module(f"workforce.{module}")).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    out[family.name] = family.type
    return out


def sample_names(families: dict[str, str]) -> set[str]:
    names = set()
    for name, kind in families.items():
        if kind == "counter":
            names |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            names |= {name + s for s in HISTOGRAM_SUFFIXES} | {f"{name}_created"}
        else:
            names.add(name)
    return names


def allowed_names() -> set[str]:
    vllm = VLLM_GAUGES | VLLM_COUNTERS | {h + s for h in VLLM_HISTOGRAMS for s in HISTOGRAM_SUFFIXES}
    return sample_names(workforce_families()) | vllm


def family_of(sample: str, families: dict[str, str]) -> str:
    """The family a sample name belongs to (e.g. workforce_tasks_total → workforce_tasks)."""
    for name, kind in families.items():
        if sample in sample_names({name: kind}):
            return name
    raise KeyError(sample)


def expand(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr.replace("$labels", "").replace("$value", ""), f"unknown variable in {expr}"
    return expr


def metric_names(expr: str) -> set[str]:
    names = set()

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"selector without a metric name in {expr}"
            names.add(node.name)
        for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None:
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expand(expr)))
    return names


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((CHART / "dashboards").glob("*.json"))}


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) for every target, plus the label_values() metrics of the variables."""
    out = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append((name, panel["title"], target["expr"]))
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                metric = re.fullmatch(r"label_values\(([^,]+),\s*\w+\)", var["definition"]).group(1)
                out.append((name, f"variable {var['name']}", metric))
    return out


@lru_cache(maxsize=1)
def production() -> tuple[dict, ...]:
    """The chart rendered with the production profile (every monitoring part on)."""
    return tuple(render(["production"]))


def rendered_rules() -> list[dict]:
    """The rule groups of the chart's PrometheusRule, rendered with every group on."""
    (rule,) = by_kind(list(production()), "PrometheusRule").values()
    return rule["spec"]["groups"]


def keda_queries() -> list[str]:
    return [
        t["metadata"]["query"]
        for so in by_kind(list(production()), "ScaledObject").values()
        for t in so["spec"]["triggers"]
        if t["type"] == "prometheus"
    ]


def all_queries() -> list[tuple[str, str]]:
    out = [(f"{d} / {t}", e) for d, t, e in dashboard_queries()]
    out += [
        (f"rule {r.get('alert') or r.get('record')}", r["expr"]) for g in rendered_rules() for r in g["rules"]
    ]
    out += [("keda vllm", q) for q in keda_queries()]
    return out
