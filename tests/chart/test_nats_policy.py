"""The bundled NATS's NetworkPolicy: clients (4222) only from the release's services and worker pools, never from
the sandbox executor or the browser (pods that run model-written code or arbitrary pages); the unauthenticated
monitor (8222) only from KEDA and the scrapers; routes (6222) between the NATS servers."""

import pytest
import yaml

from tests.chart.helm import CHART, NAMESPACE, RELEASE, by_kind, chart_copy, profile, render

PREFIX = f"{RELEASE}-workforce"
NATS_PODS = {"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": RELEASE,
             "app.kubernetes.io/component": "nats"}  # the official chart's nats.selectorLabels
OWN_NAMESPACE = {"kubernetes.io/metadata.name": NAMESPACE}


def selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for e in selector.get("matchExpressions", []):
        present = labels.get(e["key"]) in e.get("values", [])
        if {"In": not present, "NotIn": present, "Exists": e["key"] not in labels,
                "DoesNotExist": e["key"] in labels}[e["operator"]]:
            return False
    return True


def admits(policy: dict, port: int, labels: dict, namespace: dict = OWN_NAMESPACE) -> bool:
    """Whether a pod with these labels, in a namespace with these labels, may connect to `port`."""
    for rule in policy["spec"].get("ingress") or []:
        if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
            continue
        if "from" not in rule or not rule["from"]:
            return True  # no peers listed: everyone
        for peer in rule["from"]:
            pods = selects(peer["podSelector"], labels) if "podSelector" in peer else True
            if "namespaceSelector" in peer:
                spaces = selects(peer["namespaceSelector"], namespace)
            else:
                spaces = namespace == OWN_NAMESPACE
            if pods and spaces:
                return True
    return False


def pod_labels(docs) -> dict[str, dict]:
    return {n.removeprefix(f"{PREFIX}-"): d["spec"]["template"]["metadata"]["labels"]
            for n, d in by_kind(docs, "Deployment").items()}


def nats_policy(docs) -> dict:
    return by_kind(docs, "NetworkPolicy")[f"{PREFIX}-nats"]


@pytest.fixture(scope="module")
def production():
    return render(["production"])


@pytest.mark.parametrize("name", ["minimal", "production"])
def test_clients_only_from_the_release_services_not_the_sandbox_or_browser(production, name):
    docs = production if name == "production" else render([name])
    policy = nats_policy(docs)
    assert policy["spec"]["podSelector"] == {"matchLabels": NATS_PODS}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    pods = pod_labels(docs)
    assert {"sandbox", "browser"} <= set(pods)
    for component, labels in pods.items():
        uses_nats = component in ("gateway", "planner", "coordinator") or component.startswith("worker-")
        assert admits(policy, 4222, labels) == uses_nats, component
    assert not admits(policy, 4222, {"app": "anything"}) and not admits(policy, 4222, {}, {"x": "y"})
    assert admits(policy, 6222, NATS_PODS) and not admits(policy, 6222, pods["gateway"])


def test_the_monitor_is_open_to_keda_and_the_scrapers_only(production):
    policy = nats_policy(production)
    keda = {"kubernetes.io/metadata.name": "keda"}
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    assert admits(policy, 8222, {"app": "keda-operator"}, keda)
    assert admits(policy, 8222, {"app": "prometheus"}, monitoring)
    for labels in pod_labels(production).values():
        assert not admits(policy, 8222, labels), "a workforce pod reads /connz"
    # KEDA is pointed at this port of the NATS servers
    triggers = [t for so in by_kind(production, "ScaledObject").values() for t in so["spec"]["triggers"]]
    endpoints = {t["metadata"]["natsServerMonitoringEndpoint"] for t in triggers if t["type"] == "nats-jetstream"}
    assert endpoints == {f"{RELEASE}-nats-headless.{NAMESPACE}.svc.cluster.local:8222"}


def test_without_keda_or_metrics_peers_nobody_reaches_the_monitor():
    policy = nats_policy(render(["minimal"]))
    assert all(rule.get("from") for rule in policy["spec"]["ingress"]), "an empty from admits everyone"
    assert not admits(policy, 8222, {"app": "keda-operator"}, {"kubernetes.io/metadata.name": "keda"})
    assert not admits(policy, 8222, {}, OWN_NAMESPACE)


def test_ports_nats_box_exporter_and_extra_rules_follow_the_values():
    extra = {"ports": [{"port": 7422, "protocol": "TCP"}], "from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}
    docs = render(["minimal"], values=[{
        "nats": {"config": {"nats": {"port": 4333}, "monitor": {"port": 8333}},
                 "natsBox": {"enabled": True}, "promExporter": {"enabled": True, "port": 7777}},
        "networkPolicy": {"metricsFrom": [{"namespaceSelector": {"matchLabels": {"team": "obs"}}}],
                          "natsExtraIngress": [extra]},
    }])
    policy = nats_policy(docs)
    gateway = pod_labels(docs)["gateway"]
    assert admits(policy, 4333, gateway) and not admits(policy, 4222, gateway)
    assert admits(policy, 4333, NATS_PODS | {"app.kubernetes.io/component": "nats-box"})
    assert admits(policy, 8333, {}, {"team": "obs"}) and admits(policy, 7777, {}, {"team": "obs"})
    assert not admits(policy, 7777, {}, {"team": "other"})
    assert policy["spec"]["ingress"][-1] == extra
    docs = render(["minimal"], ["workers.web.autoscaling.enabled=true", "autoscaling.mode=keda",
                                "nats.config.monitor.port=8333"])
    (so,) = by_kind(docs, "ScaledObject").values()
    assert so["spec"]["triggers"][0]["metadata"]["natsServerMonitoringEndpoint"].endswith(":8333")


@pytest.mark.parametrize("sets", [["networkPolicy.enabled=false"], None])
def test_no_policy_without_network_policies_or_the_bundled_nats(sets):
    if sets is None:
        docs = render(["external-nats"])
    else:
        docs = render(["minimal"], sets)
    assert f"{PREFIX}-nats" not in by_kind(docs, "NetworkPolicy")


@pytest.mark.skipif(chart_copy() != CHART, reason="the NATS subchart is not vendored (helm dependency build)")
def test_the_selector_matches_the_subcharts_pods(production):
    (nats,) = [d for d in production if d["kind"] == "StatefulSet"]
    assert selects(nats_policy(production)["spec"]["podSelector"], nats["spec"]["template"]["metadata"]["labels"])
