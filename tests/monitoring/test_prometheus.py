"""A real Prometheus (Debian's) scrapes real services (every one its own process, over a real nats-server and
the scripted LLM) while a task runs; the metrics the dashboards and alert rules query are there, every query
evaluates, and the alert rules load and evaluate cleanly."""

import subprocess
import time

import httpx
import pytest
import yaml
from workforce.local.nats_server import free_port

from tests.chart.helm import tool
from tests.monitoring.queries import all_queries, dashboard_queries, expand, metric_names, rendered_rules
from tests.support.system import System

pytestmark = pytest.mark.e2e
SUFFIXES = ("_total", "_bucket", "_sum", "_count")
FAMILY_TYPE = {"_total": "counter", "_bucket": "histogram", "_sum": "histogram", "_count": "histogram"}
TASK = (
    "Collect the facts. SUBTASKS:\n- find alpha @echo\n- find beta @echo\n"
    "- combine alpha and beta after:1 after:2"
)


class Prometheus:
    def __init__(self, tmp, targets: dict[str, int], rules: list[dict]):
        self.port = free_port()
        (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": rules}))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [
                {
                    "job_name": "workforce",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{port}"], "labels": {"service_name": name}}
                        for name, port in targets.items()
                    ],
                }
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(tmp / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self.wait(lambda: self.http.get("/-/ready").status_code == 200, "Prometheus did not become ready")

    def wait(self, check, message: str, timeout: float = 60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, "prometheus exited; see prometheus.log"
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(message)

    def api(self, path: str, **params):
        body = self.http.get(f"/api/v1/{path}", params=params).json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def stop(self):
        self.http.close()
        self.proc.terminate()
        self.proc.wait(15)
        self.log.close()


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """The system, a Prometheus scraping every service, and one finished 3-subtask task."""
    system = System(tmp_path_factory.mktemp("system"), workers={"echo": 1}).start()
    prometheus = None
    try:
        system.start_service("sandbox", WF_GRPC_PORT=free_port())   # worker-code's executor: its metrics too
        targets = {
            f"{name}-{i}": int(s.env["WF_METRICS_PORT"])
            for name, services in system.services.items()
            for i, s in enumerate(services)
        }
        prometheus = Prometheus(tmp_path_factory.mktemp("prometheus"), targets, rendered_rules())
        prometheus.wait(
            lambda: all(t["health"] == "up" for t in prometheus.api("targets")["activeTargets"]),
            "not every service could be scraped",
        )
        record = system.wait(system.submit(TASK)["task_id"])
        assert record["status"] == "TASK_STATUS_SUCCEEDED", record
        prometheus.wait(
            lambda: prometheus.query('workforce_tasks_total{status="succeeded"} >= 1'),
            "the finished task never showed up in Prometheus",
        )
        time.sleep(3)  # a few more scrapes and rule evaluations, so that rate() has points to work on
        yield system, prometheus, targets
    finally:
        if prometheus:
            prometheus.stop()
        system.stop()


def test_every_service_is_scraped(scraped):
    _system, prometheus, targets = scraped
    active = prometheus.api("targets")["activeTargets"]
    assert (
        {t["labels"]["service_name"] for t in active}
        == set(targets)
        >= {"gateway-0", "planner-0", "coordinator-0"}
    )
    assert all(t["health"] == "up" for t in active)


def test_every_queried_workforce_metric_is_exported(scraped):
    """HELP/TYPE lines reach Prometheus for every family queried, even those without samples yet."""
    _system, prometheus, _ = scraped
    metadata = prometheus.api("metadata")
    queried = {n for _, expr in all_queries() for n in metric_names(expr) if n.startswith("workforce_")}
    missing = []
    for name in sorted(queried):
        # OpenMetrics (what Prometheus negotiates) names a counter family without _total, a histogram without
        # _bucket/_sum/_count.
        family = next((f for f in (name, *(name.removesuffix(s) for s in SUFFIXES)) if f in metadata), None)
        if family is None:
            missing.append(name)
        else:
            assert metadata[family][0]["type"] == FAMILY_TYPE.get(
                name[len(family) :], metadata[family][0]["type"]
            ), name
    assert not missing, f"queried but not exported by any service: {missing}"
    assert metadata["workforce_dead_letters"][0]["type"] == "counter"  # never incremented, still described


def test_a_service_exports_only_what_it_counts(scraped):
    """The gateway's tasks accepted and the coordinator's replans come from those services alone (a 0 from every
    other service would be a series that is never anything but 0)."""
    _system, prometheus, _ = scraped
    for metric, service in (("workforce_tasks_submitted_total", "gateway-0"),
                            ("workforce_replans_total", "coordinator-0")):
        assert {r["metric"]["service_name"] for r in prometheus.query(metric)} == {service}, metric


def test_the_task_left_the_series_the_dashboards_plot(scraped):
    _system, prometheus, _ = scraped
    value = lambda expr: float(prometheus.query(expr)[0]["value"][1])
    assert value("sum(workforce_tasks_submitted_total)") >= 1
    assert value('sum(workforce_subtasks_total{worker_type="echo", status="done"})') >= 3
    assert value("sum(workforce_task_duration_seconds_count)") >= 1
    assert value('sum(workforce_llm_tokens_total{kind="prompt"})') > 0
    assert value('sum(workforce_worker_capacity{worker_type="echo"})') >= 1
    roles = {r["metric"]["role"] for r in prometheus.query('workforce_llm_requests_total{outcome="ok"}')}
    assert {"planner", "coordinator", "worker:echo"} <= roles


def test_every_query_evaluates_and_the_key_panels_show_data(scraped):
    _system, prometheus, _ = scraped
    for where, expr in all_queries():
        prometheus.query(expand(expr))  # an invalid query fails the API call
    panels = {title: expand(expr) for _b, title, expr in dashboard_queries()}
    finished = prometheus.query(panels["Tasks finished by status"])
    assert "succeeded" in {r["metric"]["status"] for r in finished}
    subtasks = prometheus.query(panels["Subtasks by worker type and status"])
    assert ("echo", "done") in {(r["metric"]["worker_type"], r["metric"]["status"]) for r in subtasks}
    replicas = {
        r["metric"]["worker_type"]: float(r["value"][1])
        for r in prometheus.query(panels["Worker replicas by pool"])
    }
    assert replicas == {"echo": 1.0}
    lag = {
        r["metric"]["consumer"]
        for r in prometheus.query(panels["Queue lag per consumer (pending + ack-pending)"])
    }
    assert {"pool-echo", "planner", "coordinator"} <= lag
    assert prometheus.query(panels["Tokens per second by role, model and kind"])
    assert prometheus.query(panels["Task latency (submit to end)"])


def test_the_alert_rules_load_and_evaluate(scraped):
    _system, prometheus, _ = scraped
    groups = prometheus.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == sum(len(g["rules"]) for g in rendered_rules())
    prometheus.wait(
        lambda: all(
            r.get("lastEvaluation", "").startswith("20")
            for r in prometheus.api("rules")["groups"][0]["rules"]
        ),
        "rules were not evaluated",
    )
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    # One healthy task: nothing fires.
    assert not [r["name"] for r in rules if r["state"] == "firing"]


def test_the_chart_probes_answer_on_the_running_services(scraped):
    """The probes the chart gives every Deployment (gRPC health on the gRPC port, the gateway's HTTP readiness
    path) succeed against the real services."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from tests.chart.helm import by_kind, render

    system, _prometheus, _ = scraped
    deps = by_kind(render(["minimal"]), "Deployment")
    for name in ("gateway", "planner", "coordinator"):
        container = deps[f"wf-workforce-{name}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["grpc"] == {"port": 50051}  # the service "" = the whole server
        port = system.grpc_port if name == "gateway" else int(system.services[name][0].env["WF_GRPC_PORT"])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
        assert status.status == health_pb2.HealthCheckResponse.SERVING, name
        if name == "gateway":
            path = container["readinessProbe"]["httpGet"]["path"]
            assert system.http.get(path).status_code == 200
