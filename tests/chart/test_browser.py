"""The browser server as the chart renders it by default: its own Deployment (`workforce-service browser`, the
command tests/workers/test_web_browser_server.py runs), a Service worker-web connects to, and a NetworkPolicy
that admits only worker-web and lets the pods reach only worker-web's guard proxy ports; nothing in the pod
holds channel credentials or secrets. worker-web gets the endpoint and serves its guard proxies on its pod IP."""

import pytest

from tests.chart.helm import NAMESPACE, RELEASE, by_kind, container_env, render, render_error

PREFIX = f"{RELEASE}-workforce"
PROFILES = ["minimal", "production", "small-footprint", "external-nats"]


@pytest.fixture(scope="module")
def rendered():
    return {p: render([p]) for p in PROFILES}


def _pod(docs, name: str) -> dict:
    return by_kind(docs, "Deployment")[f"{PREFIX}-{name}"]["spec"]["template"]


@pytest.mark.parametrize("name", PROFILES)
def test_the_browser_pod_holds_no_channel_credentials_and_no_secret(rendered, name):
    docs = rendered[name]
    template = _pod(docs, "browser")
    pod = template["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["browser"] and container["image"].split(":")[0].endswith("workforce-web")
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert all(set(v) == {"name", "emptyDir"} for v in pod["volumes"])      # no Secret, no projected token
    assert "envFrom" not in container and "volumeMounts" in container
    env = container_env(container)
    assert not [k for k, v in env.items() if isinstance(v, dict)], "nothing from a Secret or the API"
    assert not [k for k in env if k.startswith(("WF_NATS", "WF_LLM", "WF_API", "WF_QUOTA"))], env
    assert env["WF_BROWSER_HOST"] == "0.0.0.0" and env["WF_BROWSER_SANDBOX"] == "false"
    sc, psc = container["securityContext"], pod["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] and psc["runAsNonRoot"] and psc["runAsUser"] not in (0, 10001)
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readinessProbe"]["tcpSocket"]["port"] == "ws"


@pytest.mark.parametrize("name", PROFILES)
def test_worker_web_gets_the_endpoint_and_serves_its_guard_proxies_to_the_browser_only(rendered, name):
    docs = rendered[name]
    service = by_kind(docs, "Service")[f"{PREFIX}-browser"]["spec"]
    browser = _pod(docs, "browser")
    assert service["selector"].items() <= browser["metadata"]["labels"].items()
    (port,) = service["ports"]
    worker = _pod(docs, "worker-web")
    env = container_env(worker["spec"]["containers"][0])
    assert env["WF_WEB_BROWSER_WS_ENDPOINT"] == (
        f"ws://{PREFIX}-browser.{NAMESPACE}.svc.cluster.local:{port['port']}/workforce-browser")
    assert env["WF_WEB_PROXY_BIND_HOST"] == "0.0.0.0"
    assert env["WF_WEB_PROXY_ADVERTISE_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["WF_WEB_PROXY_PORTS"] == "20000-20063"
    assert env["WF_NATS_URL"]  # the worker keeps its channel; the browser has none

    policy = by_kind(docs, "NetworkPolicy")[f"{PREFIX}-browser"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= browser["metadata"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    worker_labels = worker["metadata"]["labels"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "ws", "protocol": "TCP"}]
    (peer,) = ingress["from"]
    assert set(peer) == {"podSelector"} and peer["podSelector"]["matchLabels"].items() <= worker_labels.items()
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker-web"
    (egress,) = policy["egress"]                                    # one way out: worker-web's guard proxies
    assert egress["ports"] == [{"port": 20000, "endPort": 20063, "protocol": "TCP"}]
    (to,) = egress["to"]
    assert set(to) == {"podSelector"} and to["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == \
        "worker-web"                                                # no ipBlock: not NATS, not the internet

    if f"{PREFIX}-worker-web" in by_kind(docs, "NetworkPolicy"):   # networkPolicy.enabled
        rules = by_kind(docs, "NetworkPolicy")[f"{PREFIX}-worker-web"]["spec"]["ingress"]
        (proxy,) = [r for r in rules if any(p.get("endPort") for p in r["ports"])]
        assert proxy["ports"] == [{"port": 20000, "endPort": 20063, "protocol": "TCP"}]
        assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in proxy["from"]] == ["browser"]


def test_the_policy_is_rendered_even_with_network_policies_off():
    docs = render(["minimal"], sets=["networkPolicy.enabled=false"])
    assert f"{PREFIX}-browser" in by_kind(docs, "NetworkPolicy")


def test_without_the_browser_server_worker_web_launches_its_own():
    docs = render(["minimal"], sets=["browser.enabled=false"])
    assert f"{PREFIX}-browser" not in by_kind(docs, "Deployment")
    env = container_env(_pod(docs, "worker-web")["spec"]["containers"][0])
    assert not [k for k in env if k.startswith(("WF_WEB_BROWSER_WS", "WF_WEB_PROXY"))]
    docs = render(["minimal"], sets=["workers.web.enabled=false"])
    assert f"{PREFIX}-browser" not in by_kind(docs, "Deployment")


def test_chromiums_sandbox_needs_a_seccomp_profile_that_allows_user_namespaces():
    error = render_error(["minimal"], sets=["browser.chromiumSandbox=true"])
    assert "RuntimeDefault seccomp profile refuses" in error
    docs = render(["minimal"], sets=["browser.chromiumSandbox=true",
                                     "browser.podSecurityContext.seccompProfile.type=Localhost",
                                     "browser.podSecurityContext.seccompProfile.localhostProfile=profiles/chromium.json"])
    pod = _pod(docs, "browser")["spec"]
    assert container_env(pod["containers"][0])["WF_BROWSER_SANDBOX"] == "true"
    assert pod["securityContext"]["seccompProfile"]["type"] == "Localhost"


def test_the_proxy_port_range_must_fit_the_pools_concurrency():
    error = render_error(["minimal"], sets=["browser.proxyPorts.first=20000", "browser.proxyPorts.last=20001",
                                            "workers.web.concurrency=4"])
    assert "one port per browsing subtask" in error


def test_the_browser_can_scale_on_cpu():
    docs = render(["minimal"], ["browser.autoscaling.enabled=true", "browser.autoscaling.maxReplicas=8"])
    assert "replicas" not in by_kind(docs, "Deployment")[f"{PREFIX}-browser"]["spec"]  # the HPA owns it
    hpa = by_kind(docs, "HorizontalPodAutoscaler")[f"{PREFIX}-browser"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == f"{PREFIX}-browser"
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 8)
    assert not by_kind(render(["minimal"]), "HorizontalPodAutoscaler")
