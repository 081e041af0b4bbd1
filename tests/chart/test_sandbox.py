"""The sandbox executor as the chart renders it: its own Deployment with no egress at all, ingress only from
worker-code, no secrets, no token, no channel; worker-code reaches it over gRPC. tests/sandbox/test_isolation.py
runs the executor with the security context asserted here."""

import pytest
import yaml

from tests.chart.helm import RELEASE, NAMESPACE, by_kind, container_env, profile, render, render_error

PREFIX = f"{RELEASE}-workforce"
PROFILES = ["minimal", "production"]  # external-nats runs no code worker, hence no executor


@pytest.fixture(scope="module")
def rendered():
    return {p: render([p]) for p in PROFILES}


def _sandbox(docs):
    return by_kind(docs, "Deployment")[f"{PREFIX}-sandbox"]


@pytest.mark.parametrize("name", PROFILES)
def test_the_executor_pod_holds_nothing_worth_stealing(rendered, name):
    docs = rendered[name]
    pod = _sandbox(docs)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["sandbox"]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert "volumes" in pod and all(set(v) == {"name", "emptyDir"} for v in pod["volumes"])  # no Secret
    assert pod["volumes"][0]["emptyDir"]["medium"] == "Memory"  # a full work area is ENOSPC, not eviction
    env = container_env(container)
    from_refs = {k: v for k, v in env.items() if isinstance(v, dict)}
    assert from_refs == {"WF_INSTANCE_ID": {"fieldRef": {"fieldPath": "metadata.name"}}}  # no Secret
    assert "envFrom" not in container
    assert not {"WF_NATS_URL", "WF_NATS_CREDS", "WF_LLM_API_KEY", "WF_API_KEYS", "WF_LLM_BASE_URL"} & set(env)
    assert env["WF_METRICS_PORT"] == "9464" and container["ports"] == [
        {"name": "grpc", "containerPort": 50051, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    sc, psc = container["securityContext"], pod["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] and psc["runAsNonRoot"] and psc["runAsUser"] != 0
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("name", PROFILES)
def test_no_egress_at_all_and_ingress_only_from_the_code_worker(rendered, name):
    docs = rendered[name]
    policy = by_kind(docs, "NetworkPolicy")[f"{PREFIX}-sandbox"]["spec"]
    labels = _sandbox(docs)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"] and not policy.get("egress")  # zero egress rules
    rule, metrics = policy["ingress"]
    assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    (peer,) = rule["from"]
    worker = by_kind(docs, "Deployment")[f"{PREFIX}-worker-code"]["spec"]["template"]["metadata"]["labels"]
    assert peer["podSelector"]["matchLabels"].items() <= worker.items()
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker-code"
    # its /metrics (workforce_sandbox_runs_total{outcome="busy"}) from the scrapers only
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    expected = yaml.safe_load(profile(name).read_text()).get("networkPolicy", {}).get("metricsFrom")
    assert metrics["from"] == (expected or [{"namespaceSelector": {}}])


def test_the_policy_is_rendered_even_with_network_policies_off():
    docs = render(["minimal"], sets=["networkPolicy.enabled=false"])
    assert set(by_kind(docs, "NetworkPolicy")) == {f"{PREFIX}-sandbox", f"{PREFIX}-browser"}


def test_the_code_worker_reaches_it_over_headless_grpc(rendered):
    docs = rendered["minimal"]
    service = by_kind(docs, "Service")[f"{PREFIX}-sandbox"]["spec"]
    assert service["clusterIP"] == "None" and service["ports"][0]["port"] == 50051
    worker = by_kind(docs, "Deployment")[f"{PREFIX}-worker-code"]["spec"]["template"]["spec"]["containers"][0]
    env, sandbox_env = container_env(worker), container_env(_sandbox(docs)["spec"]["template"]["spec"]["containers"][0])
    assert env["WF_SANDBOX_URL"] == f"dns:///{PREFIX}-sandbox.{NAMESPACE}.svc.cluster.local:50051"
    limits = {k: v for k, v in sandbox_env.items() if k.startswith("WF_CODE_")}
    assert limits and all(env[k] == v for k, v in limits.items()), "the worker describes the limits it gets"
    # the worker's own egress reaches the executor: this release's pods
    policy = by_kind(docs, "NetworkPolicy")[f"{PREFIX}-worker-code"]["spec"]
    assert any(peer.get("podSelector") for rule in policy["egress"] for peer in rule.get("to", []))


def test_runtime_class_and_user_namespaces_are_options():
    docs = render(["minimal"], sets=["sandbox.runtimeClassName=gvisor", "sandbox.hostUsers=false"])
    pod = _sandbox(docs)["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "gvisor" and pod["hostUsers"] is False
    others = [d for n, d in by_kind(docs, "Deployment").items() if n != f"{PREFIX}-sandbox"]
    assert not any("runtimeClassName" in d["spec"]["template"]["spec"] for d in others)


def test_the_code_worker_needs_the_executor():
    assert "sandbox.enabled" in render_error(["minimal"], sets=["sandbox.enabled=false"])
    docs = render(["minimal"], sets=["sandbox.enabled=false", "workers.code.enabled=false"])
    assert f"{PREFIX}-sandbox" not in by_kind(docs, "Deployment")


def test_the_service_monitor_scrapes_the_executor():
    docs = render(["production"])
    (monitor,) = [d for n, d in by_kind(docs, "ServiceMonitor").items() if n == f"{PREFIX}-services"]
    service = by_kind(docs, "Service")[f"{PREFIX}-sandbox"]
    selector, labels = monitor["spec"]["selector"], service["metadata"]["labels"]
    assert selector["matchLabels"].items() <= labels.items()
    for e in selector["matchExpressions"]:
        assert (labels.get(e["key"]) in e["values"]) == (e["operator"] == "In"), e
    assert {p["name"] for p in service["spec"]["ports"]} >= {e["port"] for e in monitor["spec"]["endpoints"]}


@pytest.mark.parametrize(
    "sets, message",
    [
        # 2 code replicas × 2 subtasks, 2 executor pods × 1 run
        (["workers.code.replicas=2"], "worker-code may run 4 programs at once (workers.code.concurrency × "
                                      "replicas), but the executor has 2 slots (2 pods × 1 runs per pod): "
                                      "set sandbox.replicas (or sandbox.autoscaling) to at least 4"),
        (["workers.code.autoscaling.enabled=true", "workers.code.autoscaling.maxReplicas=3",
          "sandbox.concurrency=2"],
         "worker-code may run 6 programs at once (workers.code.concurrency × autoscaling.maxReplicas), "
         "but the executor has 4 slots (2 pods × 2 runs per pod): set sandbox.replicas (or sandbox.autoscaling) "
         "to at least 3"),
        (["workers.code.concurrency=8", "sandbox.autoscaling.enabled=true", "sandbox.autoscaling.maxReplicas=5"],
         "set sandbox.autoscaling.maxReplicas to at least 8"),
    ],
)
def test_fewer_executor_slots_than_the_code_pool_runs_at_once_are_refused(sets, message):
    assert message in render_error(["minimal"], sets)


@pytest.mark.parametrize(
    "sets",
    [
        ["workers.code.replicas=2", "sandbox.replicas=4"],
        ["workers.code.replicas=2", "sandbox.concurrency=2"],
        ["workers.code.autoscaling.enabled=true", "workers.code.autoscaling.maxReplicas=8",
         "sandbox.autoscaling.enabled=true", "sandbox.autoscaling.maxReplicas=16"],
    ],
)
def test_enough_executor_slots_render(sets):
    assert _sandbox(render(["minimal"], sets))


def test_the_executor_can_scale_on_cpu():
    docs = render(["minimal"], ["sandbox.autoscaling.enabled=true", "sandbox.autoscaling.maxReplicas=6"])
    assert "replicas" not in _sandbox(docs)["spec"]  # the HPA owns it
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[f"{PREFIX}-sandbox"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{PREFIX}-sandbox"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert f"{PREFIX}-sandbox" not in by_kind(render(["minimal"]), "HorizontalPodAutoscaler")
