"""helm lint + helm template for three value profiles; every document passes kubernetes-validate --strict."""

import re
import subprocess

import pytest
import yaml

from tests.chart.helm import (
    CRD_KINDS,
    KEDA_API,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    by_kind,
    chart_copy,
    container_env,
    helm,
    profile,
    render,
    render_text,
    tool,
)

PROFILES = ["minimal", "production", "external-nats", "small-footprint"]
PREFIX = f"{RELEASE}-workforce"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {p: render([p]) for p in PROFILES}


@pytest.mark.parametrize("name", PROFILES)
def test_lint_strict(name):
    done = helm("lint", "--strict", str(chart_copy()), "-f", str(profile(name)))
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("name", PROFILES)
def test_every_document_validates_strictly(name, tmp_path):
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(render_text([name]))
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBE_VERSION, str(manifest)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"^INFO .* passed for resource (\S+) against version", done.stdout, re.MULTILINE)
    builtin = [d for d in docs if d["kind"] not in CRD_KINDS]
    assert len(passed) == len(builtin) > 0
    # Only the known CRD kinds lack a schema (they are checked by the tests below and by promtool).
    for line in done.stdout.splitlines():
        if line.startswith("WARN"):
            assert re.search(r"for kind (ScaledObject|ServiceMonitor|PrometheusRule) ", line), line


def deployments(docs):
    return by_kind(docs, "Deployment")


def test_minimal_profile_runs_every_default_service_hardened(rendered):
    from workforce.services import names

    docs = rendered["minimal"]
    deps = deployments(docs)
    expected = {
        "gateway",
        "planner",
        "coordinator",
        "worker-web",
        "worker-document",
        "worker-code",
        "worker-tool",
    }
    assert set(deps) == {f"{PREFIX}-{n}" for n in expected | {"sandbox", "browser"}}
    deps.pop(f"{PREFIX}-sandbox")  # no channel, no LLM: tests/chart/test_sandbox.py
    deps.pop(f"{PREFIX}-browser")  # no channel, no LLM: tests/chart/test_browser.py
    services, pdbs, policies = (
        by_kind(docs, "Service"),
        by_kind(docs, "PodDisruptionBudget"),
        by_kind(docs, "NetworkPolicy"),
    )
    for name, dep in deps.items():
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"][0] in names(), container["args"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
        sc = container["securityContext"]
        assert (
            sc["readOnlyRootFilesystem"]
            and not sc["allowPrivilegeEscalation"]
            and sc["capabilities"]["drop"] == ["ALL"]
        )
        assert (
            container["livenessProbe"]["grpc"]["port"] == 50051
            and container["startupProbe"]["grpc"]["port"] == 50051
        )
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        selector = dep["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        for kind, objs, path in (
            ("Service", services, ("spec", "selector")),
            ("PodDisruptionBudget", pdbs, ("spec", "selector", "matchLabels")),
            ("NetworkPolicy", policies, ("spec", "podSelector", "matchLabels")),
        ):
            sel = objs[name]
            for key in path:
                sel = sel[key]
            assert sel.items() <= labels.items(), f"{kind} {name} does not select its pods"
        env = container_env(container)
        assert env["WF_NATS_URL"] == f"nats://{RELEASE}-nats:4222"
        assert env["WF_TASK_TTL_S"] == "2592000" and env["WF_IDEMPOTENCY_TTL_S"] == "86400"  # retention: everywhere
        assert env["WF_LLM_BASE_URL"] == "https://llm.example.com/v1" and env["WF_METRICS_PORT"] == "9464"
    gateway = deps[f"{PREFIX}-gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["env"][[e["name"] for e in gateway["env"]].index("WF_API_KEYS")]["valueFrom"][
        "secretKeyRef"
    ]["name"] in by_kind(docs, "Secret")
    assert {p["name"] for p in services[f"{PREFIX}-gateway"]["spec"]["ports"]} == {"grpc", "http", "metrics"}
    assert container_env(gateway)["WF_QUOTA_TASKS_IN_FLIGHT"] == "100"
    assert not any(d["kind"] in CRD_KINDS | {"Job"} for d in docs)
    # The code pool gets an egress policy even with restrictEgress off: it needs no internet.
    code_policy = policies[f"{PREFIX}-worker-code"]["spec"]
    assert "Egress" in code_policy["policyTypes"]
    assert not any("ipBlock" in peer for rule in code_policy["egress"] for peer in rule.get("to", []))
    assert "Egress" not in policies[f"{PREFIX}-worker-web"]["spec"]["policyTypes"]


def test_production_profile_scales_pools_with_keda_on_consumer_lag(rendered):
    docs = rendered["production"]
    scaled = by_kind(docs, "ScaledObject")
    deps = deployments(docs)
    for pool in ("web", "document", "code", "tool"):
        so = scaled[f"{PREFIX}-worker-{pool}"]
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "nats-jetstream"
        meta = trigger["metadata"]
        assert meta["stream"] == "WF_WORK" and meta["consumer"] == f"pool-{pool}"
        assert (
            meta["natsServerMonitoringEndpoint"]
            == f"{RELEASE}-nats-headless.{NAMESPACE}.svc.cluster.local:8222"
        )
        assert so["spec"]["scaleTargetRef"]["name"] in deps
        assert "replicas" not in deps[so["spec"]["scaleTargetRef"]["name"]]["spec"]  # the autoscaler owns it
        assert so["spec"]["minReplicaCount"] >= 1
    assert scaled[f"{PREFIX}-worker-web"]["spec"]["triggers"][0]["metadata"]["lagThreshold"] == "4"
    assert not by_kind(docs, "HorizontalPodAutoscaler")


def test_production_profile_serves_models_on_h100s_with_lora_adapters(rendered):
    docs = rendered["production"]
    deps = deployments(docs)
    vllm = deps[f"{PREFIX}-vllm-qwen"]
    pod = vllm["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"].startswith("vllm/vllm-openai:v") and c["command"] == ["vllm", "serve"]
    args = c["args"]
    assert args[0] == "Qwen/Qwen2.5-32B-Instruct"
    for flag in (
        "--tensor-parallel-size=2",
        "--enable-auto-tool-choice",
        "--tool-call-parser=hermes",
        "--enable-lora",
        "--served-model-name=qwen",
        "--structured-outputs-config.backend=xgrammar",
    ):
        assert flag in args
    modules = args[args.index("--lora-modules") + 1 : args.index("--lora-modules") + 5]
    assert modules == [
        "planner-lora=/models/adapters/planner",
        "caller-lora=/models/adapters/caller",
        "summarizer-lora=/models/adapters/summarizer",
        "reflect-lora=/models/adapters/reflect",
    ]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] in by_kind(docs, "PersistentVolumeClaim")
    # The services call vLLM by its Service name, and ask for the role adapters by name.
    service = by_kind(docs, "Service")[f"{PREFIX}-vllm-qwen"]
    worker = container_env(deps[f"{PREFIX}-worker-web"]["spec"]["template"]["spec"]["containers"][0])
    assert worker["WF_LLM_BASE_URL"] == f"http://{service['metadata']['name']}:8000/v1"
    roles = dict(pair.split("=") for pair in worker["WF_LLM_MODELS"].split(","))
    assert set(roles.values()) <= {m.split("=")[0] for m in modules}
    # vLLM itself scales with KEDA on its queue.
    trigger = by_kind(docs, "ScaledObject")[f"{PREFIX}-vllm-qwen"]["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and "vllm:num_requests_waiting" in trigger["metadata"]["query"]


def test_production_profile_wires_roles_monitoring_and_ingress(rendered):
    docs = rendered["production"]
    deps, services = deployments(docs), by_kind(docs, "Service")
    tool_env = container_env(deps[f"{PREFIX}-worker-tool"]["spec"]["template"]["spec"]["containers"][0])
    addrs = dict(p.split("=") for p in tool_env["WF_TOOL_ROLE_ADDRS"].split(","))
    assert set(addrs) == {"caller", "summarizer", "planner", "reflect"}
    for addr in addrs.values():
        host, port = addr.split(":")
        assert host in services and port == "50051"
    monitors = by_kind(docs, "ServiceMonitor")
    svc_monitor = monitors[f"{PREFIX}-services"]["spec"]
    assert svc_monitor["endpoints"][0]["port"] == "metrics"
    selected = [
        s
        for s in services.values()
        if svc_monitor["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        and svc_monitor["selector"]["matchExpressions"][0]["operator"] == "NotIn"
        and s["metadata"]["labels"]["app.kubernetes.io/component"]
        not in svc_monitor["selector"]["matchExpressions"][0]["values"]
    ]
    assert {"vllm", "sandbox", "browser"} <= set(svc_monitor["selector"]["matchExpressions"][0]["values"])
    assert len(selected) == len(deps) - 3 and all(
        "metrics" in {p["name"] for p in s["spec"]["ports"]} for s in selected
    )
    assert monitors[f"{PREFIX}-vllm"]["spec"]["endpoints"][0]["port"] == "http"
    assert by_kind(docs, "PrometheusRule")[PREFIX]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    dashboards = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert {next(iter(d["data"])) for d in dashboards} == {
        "tasks.json",
        "llm.json",
        "workers.json",
        "vllm.json",
    }
    ingress = by_kind(docs, "Ingress")[f"{PREFIX}-gateway"]["spec"]
    assert ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"] == "http"
    assert by_kind(docs, "Service")[f"{PREFIX}-gateway"]["spec"]["type"] == "LoadBalancer"
    assert "WF_API_KEYS" not in {s for d in by_kind(docs, "Secret").values() for s in d.get("stringData", {})}


def test_external_nats_profile(rendered):
    docs = rendered["external-nats"]
    deps = deployments(docs)
    assert f"{PREFIX}-worker-code" not in deps and f"{PREFIX}-sandbox" not in deps  # no code, no executor
    deps.pop(f"{PREFIX}-browser")  # no channel: tests/chart/test_browser.py
    for dep in deps.values():
        pod = dep["spec"]["template"]["spec"]
        env = container_env(pod["containers"][0])
        assert env["WF_NATS_URL"] == "nats://nats.messaging.svc.cluster.local:4222"
        assert env["WF_NATS_CREDS"] == "/etc/nats-creds/nats.creds"
        assert {"name": "nats-creds", "secret": {"secretName": "workforce-nats-creds"}} in pod["volumes"]
    # No KEDA API in the cluster: mode auto falls back to an HPA for the autoscaled pool.
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{PREFIX}-worker-web" and hpa["spec"]["maxReplicas"] == 6
    assert (
        "replicas" not in deps[f"{PREFIX}-worker-web"]["spec"]
        and deps[f"{PREFIX}-planner"]["spec"]["replicas"] == 2
    )
    # With KEDA served by the cluster the same values give a ScaledObject on the external NATS.
    with_keda = render(["external-nats"], api_versions=[KEDA_API])
    (so,) = by_kind(with_keda, "ScaledObject").values()
    assert (
        so["spec"]["triggers"][0]["metadata"]["natsServerMonitoringEndpoint"]
        == "nats-headless.messaging.svc.cluster.local:8222"
    )
    assert not by_kind(with_keda, "HorizontalPodAutoscaler")


NOTES_WRAPPER = """apiVersion: v1
kind: ConfigMap
metadata: {name: notes}
data:
  notes: |
{{ tpl (.Files.Get "notes-source.txt") . | indent 4 }}
"""


@pytest.mark.parametrize(
    "name, expect",
    [
        (
            "minimal",
            [
                "port-forward service/wf-workforce-gateway 8080:80 50051:50051",
                "/v1/tasks",
                "Secret wf-workforce-api-keys",
                "nats://wf-nats:4222",
            ],
        ),
        (
            "production",
            [
                "https://workforce.example.com/docs",
                "Secret workforce-api-keys",
                "http://wf-workforce-vllm-qwen:8000/v1",
                'folder "Workforce"',
            ],
        ),
    ],
)
def test_notes_tell_how_to_reach_the_gateway(name, expect, tmp_path):
    """NOTES.txt only renders on install (which needs a cluster): render it via tpl in a copy of the chart."""
    import shutil

    chart = tmp_path / "workforce"
    shutil.copytree(chart_copy(), chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes-source.txt")
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "zz-notes.yaml").write_text(NOTES_WRAPPER)
    out = helm(
        "template",
        RELEASE,
        str(chart),
        "-n",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(profile(name)),
        "--show-only",
        "templates/zz-notes.yaml",
    ).stdout
    notes = yaml.safe_load(out)["data"]["notes"]
    for text in expect:
        assert text in notes, notes


def test_every_wf_variable_the_chart_sets_is_a_setting_the_services_read(rendered):
    """A misspelt WF_ variable would be ignored silently (extra="ignore"): each must name a settings field."""
    from workforce.core.config import Settings
    from workforce.modelserver.settings import ModelServerSettings
    from workforce.browser.config import BrowserServerSettings
    from workforce.sandbox.limits import SandboxSettings
    from workforce.workers.code.limits import CodeSettings
    from workforce.workers.document.config import DocumentSettings
    from workforce.core.toollearning.settings import ToolSettings
    from workforce.workers.web.config import WebSettings

    def fields(cls):
        prefix = cls.model_config.get("env_prefix", "")
        return {f"{prefix}{name}".upper() for name in cls.model_fields}

    classes = (Settings, CodeSettings, DocumentSettings, ToolSettings, WebSettings, ModelServerSettings,
               SandboxSettings, BrowserServerSettings)
    known = set().union(*(fields(c) for c in classes)) | {"WF_LOCAL_MODEL"}  # ModelServerSettings.local_model
    seen = set()
    for docs in rendered.values():
        for dep in by_kind(docs, "Deployment").values():
            for container in dep["spec"]["template"]["spec"]["containers"]:
                seen |= {name for name in container_env(container) if name.startswith("WF_")}
    assert {
        "WF_NATS_URL",
        "WF_ACK_WAIT_S",
        "WF_MAX_DELIVER",
        "WF_TOOL_ROLE_ADDRS",
        "WF_SANDBOX_URL",
        "WF_CODE_WALL_S",
    } <= seen
    assert not seen - known, f"the chart sets variables no service reads: {sorted(seen - known)}"


def test_production_profile_sends_traces_from_every_service_to_the_collector(rendered):
    docs = rendered["production"]
    for name, dep in deployments(docs).items():
        if dep["metadata"]["labels"].get("app.kubernetes.io/component") in ("vllm", "model-server", "sandbox",
                                                                              "browser"):
            continue  # no spans: model servers, the sandbox executor and the browser (no egress but their own)
        env = container_env(dep["spec"]["template"]["spec"]["containers"][0])
        assert env["WF_OTLP_ENDPOINT"] == "http://otel-collector.monitoring:4318", name
        assert env["WF_TRACE_SAMPLE_RATIO"] == "0.25", name
    egress = [p for p in by_kind(docs, "NetworkPolicy").values() if "Egress" in p["spec"]["policyTypes"]]
    assert egress
    for policy in egress:
        if policy["metadata"]["name"].endswith(("-vllm", "-sandbox", "-browser")):
            continue
        ports = [port for rule in policy["spec"]["egress"] for port in rule.get("ports", [])]
        assert {"port": 4318, "protocol": "TCP"} in ports, policy["metadata"]["name"]
    # Off by default: no variable, no rule.
    minimal = rendered["minimal"]
    for dep in deployments(minimal).values():
        assert "WF_OTLP_ENDPOINT" not in container_env(dep["spec"]["template"]["spec"]["containers"][0])


@pytest.mark.parametrize("endpoint,port", [("https://otlp.example.com", 443), ("http://collector:4318/", 4318)])
def test_otlp_port_in_egress_follows_the_endpoint(endpoint, port):
    docs = render(["production"], sets=[f"otlp.endpoint={endpoint}"])
    policy = next(p for n, p in by_kind(docs, "NetworkPolicy").items() if n.endswith("-planner"))
    ports = [p for rule in policy["spec"]["egress"] for p in rule.get("ports", [])]
    assert {"port": port, "protocol": "TCP"} in ports


def test_an_otlp_endpoint_without_scheme_is_rejected():
    from tests.chart.helm import render_error

    assert "otlp" in render_error(["minimal"], values={"otlp": {"endpoint": "collector:4318"}})
