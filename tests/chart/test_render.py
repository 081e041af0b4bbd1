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
    from workforce.core.config import Settings
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
        # The control inbox's ack wait is the services' own default (a killed planner hands over within 10 s).
        assert float(env["WF_CONTROL_ACK_WAIT_S"]) == Settings.model_fields["control_ack_wait_s"].default == 6
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
    # the pools scale with KEDA; only the sandbox executor and the browser (no queue of their own) on CPU
    assert set(by_kind(docs, "HorizontalPodAutoscaler")) == {f"{PREFIX}-sandbox", f"{PREFIX}-browser"}


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
    # Only this release's servers of that name: another namespace's vLLM must not scale this one.
    assert trigger["metadata"]["query"] == (
        f'sum(vllm:num_requests_waiting{{namespace="{NAMESPACE}",model_name="qwen"}})'
    )
    # uid 1000 has no passwd entry in the image: getpass.getuser() needs USER, inductor a writable cache.
    env = container_env(c)
    assert env["USER"] == "vllm"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    (cache_mount,) = [p for p in mounts if env["TORCHINDUCTOR_CACHE_DIR"].startswith(p + "/")]
    assert volumes[mounts[cache_mount]] == {"name": "tmp", "emptyDir": {}}  # writable, on disk, per pod


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
    excluded = set(svc_monitor["selector"]["matchExpressions"][0]["values"])
    assert {"vllm", "browser"} <= excluded and "sandbox" not in excluded  # the executor's busy slots are scraped
    metrics = [s for s in selected if "metrics" in {p["name"] for p in s["spec"]["ports"]}]
    # every Deployment but vLLM and the browser once; the LoadBalancer gateway's metrics on its -internal Service
    assert len(metrics) == len(deps) - 2 and f"{PREFIX}-gateway-internal" in {s["metadata"]["name"] for s in metrics}
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
    "name, sets, expect, unexpected",
    [
        (
            "minimal",
            [],
            [
                "port-forward service/wf-workforce-gateway 8080:80 50051:50051",
                "http://127.0.0.1:8080/v1/tasks",
                "base URL http://127.0.0.1:8080/v1,",
                "Secret wf-workforce-api-keys",
                "nats://wf-nats:4222",
            ],
            [],
        ),
        (
            "production",
            [],
            [
                "https://workforce.example.com/docs",
                "https://workforce.example.com/v1/tasks",
                "base URL https://workforce.example.com/v1,",
                "Secret workforce-api-keys",
                "http://wf-workforce-vllm-qwen:8000/v1",
                'folder "Workforce"',
            ],
            ["127.0.0.1"],
        ),
        (
            "minimal",
            ["services.gateway.service.type=LoadBalancer"],
            [
                "WF_GATEWAY=$(kubectl -n workforce get service wf-workforce-gateway",
                "{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}",
                "http://$WF_GATEWAY/v1/tasks",
                "base URL http://$WF_GATEWAY/v1,",
                "serves plain HTTP and gRPC, and API keys are bearer tokens:",
                "put TLS in front of it",
            ],
            ["127.0.0.1", "port-forward", "gRPC is not published"],
        ),
        (
            "minimal",
            ["services.gateway.service.type=LoadBalancer", "services.gateway.service.grpc=false"],
            ["serves plain HTTP, and API keys", "gRPC is not published", "wf-workforce-gateway-internal:50051"],
            ["127.0.0.1"],
        ),
    ],
)
def test_notes_tell_how_to_reach_the_gateway(name, sets, expect, unexpected, tmp_path):
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
        *[arg for s in sets for arg in ("--set", s)],
        "--show-only",
        "templates/zz-notes.yaml",
    ).stdout
    notes = yaml.safe_load(out)["data"]["notes"]
    for text in expect:
        assert text in notes, notes
    for text in unexpected:
        assert text not in notes, notes


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


def egress_ports(docs, component: str) -> list[dict]:
    policy = by_kind(docs, "NetworkPolicy")[f"{PREFIX}-{component}"]["spec"]
    assert "Egress" in policy["policyTypes"], component
    return [port for rule in policy["egress"] for port in rule.get("ports", [])]


@pytest.mark.parametrize(
    "base_url, port", [("https://llm.example.com/v1", 443), ("http://vllm.models.svc:8000/v1", 8000)]
)
def test_a_pool_without_internet_still_reaches_the_llm_endpoint(base_url, port):
    docs = render(["minimal"], sets=[f"llm.baseUrl={base_url}"])
    assert {"port": port, "protocol": "TCP"} in egress_ports(docs, "worker-code")
    # With restrictEgress every service gets it, next to the collector's port.
    docs = render(["minimal"], sets=[f"llm.baseUrl={base_url}", "networkPolicy.restrictEgress=true",
                                     "otlp.endpoint=http://collector:4318"])
    for component in ("gateway", "planner", "coordinator", "worker-web"):
        ports = egress_ports(docs, component)
        assert {"port": port, "protocol": "TCP"} in ports and {"port": 4318, "protocol": "TCP"} in ports


def test_an_in_release_llm_endpoint_opens_no_port_to_anywhere():
    """The model server is one of the release's pods: the release rule covers it, no port-wide rule."""
    ports = egress_ports(render(["small-footprint"]), "worker-code")
    assert {p["port"] for p in ports} == {53, 4222}


@pytest.mark.parametrize(
    "url, port",
    [
        ("tls://nats.example.com:7422", 7422),
        ("nats://nats.messaging.svc", 4222),
        ("nats://10.0.0.5:14222", 14222),
    ],
)
def test_the_nats_egress_port_is_the_external_urls(url, port):
    docs = render(["external-nats"], sets=[f"nats.external.url={url}", "networkPolicy.restrictEgress=true"])
    ports = egress_ports(docs, "planner")
    assert {"port": port, "protocol": "TCP"} in ports
    assert port == 4222 or {"port": 4222, "protocol": "TCP"} not in ports


def test_the_bundled_nats_port_is_its_configured_port():
    docs = render(["minimal"], sets=["nats.config.nats.port=4333"])
    assert {"port": 4333, "protocol": "TCP"} in egress_ports(docs, "worker-code")


def test_a_component_value_is_merged_key_by_key_over_the_defaults():
    docs = render(["minimal"], sets=["workers.code.podSecurityContext.fsGroup=5",
                                     "workers.tool.resources.limits.memory=2Gi",
                                     "workers.web.pdb.enabled=false",
                                     "workers.document.replicas=0",
                                     "workers.document.tolerations[0].key=pool"])
    deps = deployments(docs)
    pod = deps[f"{PREFIX}-worker-code"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 5, "seccompProfile": {"type": "RuntimeDefault"}}
    tool_container = deps[f"{PREFIX}-worker-tool"]["spec"]["template"]["spec"]["containers"][0]
    assert tool_container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "2Gi"},
    }
    # A component's own map keeps the keys it sets (worker-web's requests) and false and 0 win over defaults.
    web = deps[f"{PREFIX}-worker-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "3Gi"}}
    assert f"{PREFIX}-worker-web" not in by_kind(docs, "PodDisruptionBudget")
    assert f"{PREFIX}-worker-code" in by_kind(docs, "PodDisruptionBudget")
    document = deps[f"{PREFIX}-worker-document"]["spec"]
    assert document["replicas"] == 0 and document["template"]["spec"]["tolerations"] == [{"key": "pool"}]
    # The defaults themselves are untouched for the other components.
    planner = deps[f"{PREFIX}-planner"]["spec"]["template"]["spec"]
    assert planner["securityContext"]["fsGroup"] == 10001 and "tolerations" not in planner


def vllm_values(*servers, **defaults) -> dict:
    vllm = {"enabled": True, "servers": list(servers)}
    if defaults:
        vllm["serverDefaults"] = defaults
    return {"llm": {"baseUrl": ""}, "vllm": vllm}


def vllm_container(docs, name: str) -> dict:
    return deployments(docs)[f"{PREFIX}-vllm-{name}"]["spec"]["template"]["spec"]["containers"][0]


def test_a_vllm_server_needs_only_a_name_and_a_model():
    docs = render(["minimal"], values=[vllm_values({"name": "small", "model": "Qwen/Qwen2.5-7B-Instruct"},
                                                   {"name": "big", "model": "m", "tensorParallelSize": 4,
                                                    "maxModelLen": 8192, "lora": {"enabled": True},
                                                    "cache": {"enabled": False},
                                                    "resources": {"limits": {"memory": "300Gi"}}},
                                                   dtype="bfloat16")])
    small, big = vllm_container(docs, "small"), vllm_container(docs, "big")
    for flag in ("--tensor-parallel-size=1", "--gpu-memory-utilization=0.9", "--dtype=bfloat16",
                 "--served-model-name=small", "--tool-call-parser=hermes"):
        assert flag in small["args"], small["args"]
    assert not any(a.startswith(("--max-model-len", "--enable-lora")) for a in small["args"])
    assert small["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for flag in ("--tensor-parallel-size=4", "--max-model-len=8192", "--enable-lora", "--max-loras=4",
                 "--max-lora-rank=64", "--dtype=bfloat16"):
        assert flag in big["args"], big["args"]
    assert big["resources"] == {"requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "4"},
                                "limits": {"memory": "300Gi", "nvidia.com/gpu": "4"}}
    claims = by_kind(docs, "PersistentVolumeClaim")
    assert set(claims) == {f"{PREFIX}-vllm-small-cache"}
    assert claims[f"{PREFIX}-vllm-small-cache"]["spec"] == {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "200Gi"}}}
    big_pod = deployments(docs)[f"{PREFIX}-vllm-big"]["spec"]["template"]["spec"]
    assert {"name": "models", "emptyDir": {}} in big_pod["volumes"]


@pytest.mark.parametrize(
    "server, renders",
    [
        ({"replicas": 2}, False),
        ({"autoscaling": {"enabled": True}}, False),
        ({"replicas": 2, "cache": {"accessModes": ["ReadWriteMany"]}}, True),
        ({"replicas": 2, "cache": {"existingClaim": "models-rwx"}}, True),
        ({"replicas": 2, "cache": {"enabled": False}}, True),
        ({"replicas": 1}, True),
    ],
)
def test_vllm_replicas_do_not_share_a_read_write_once_cache(server, renders):
    from tests.chart.helm import render_error

    values = vllm_values({"name": "qwen", "model": "m"} | server)
    if renders:
        assert vllm_container(render(["minimal"], values=[values]), "qwen")
    else:
        error = render_error(["minimal"], values=values)
        assert "vllm.servers[qwen]" in error and "set cache.accessModes: [ReadWriteMany]" in error, error


def _ports(service: dict) -> set[str]:
    return {p["name"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize(
    "sets, published",
    [
        (["services.gateway.service.type=LoadBalancer"], {"http", "grpc"}),
        (["services.gateway.service.type=LoadBalancer", "services.gateway.service.grpc=false"], {"http"}),
        (["services.gateway.service.type=NodePort"], {"http", "grpc"}),
    ],
)
def test_a_published_gateway_keeps_metrics_in_the_cluster(sets, published):
    docs = render(["minimal"], sets + ["monitoring.serviceMonitor.enabled=true"])
    services = by_kind(docs, "Service")
    gateway, internal = services[f"{PREFIX}-gateway"], services[f"{PREFIX}-gateway-internal"]
    assert gateway["spec"]["type"] != "ClusterIP" and _ports(gateway) == published
    assert internal["spec"]["type"] == "ClusterIP" and _ports(internal) == {"grpc", "metrics"}
    assert internal["spec"]["selector"] == gateway["spec"]["selector"]
    # no Service outside ClusterIP carries the metrics port; the ServiceMonitor still finds the gateway's
    published = [s for s in services.values() if s["spec"].get("type", "ClusterIP") != "ClusterIP"]
    assert published and all("metrics" not in _ports(s) for s in published)
    monitor = by_kind(docs, "ServiceMonitor")[f"{PREFIX}-services"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= internal["metadata"]["labels"].items()
    assert internal["metadata"]["labels"]["app.kubernetes.io/component"] not in monitor["selector"][
        "matchExpressions"][0]["values"]


def test_a_cluster_ip_gateway_is_one_service_with_every_port(rendered):
    services = by_kind(rendered["minimal"], "Service")
    assert _ports(services[f"{PREFIX}-gateway"]) == {"http", "grpc", "metrics"}
    assert f"{PREFIX}-gateway-internal" not in services


def test_the_control_plane_spreads_over_nodes_softly_by_default(rendered):
    deps = deployments(rendered["minimal"])
    for name in ("gateway", "planner", "coordinator"):
        template = deps[f"{PREFIX}-{name}"]["spec"]["template"]
        assert deps[f"{PREFIX}-{name}"]["spec"]["replicas"] == 2
        (spread,) = template["spec"]["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["whenUnsatisfiable"] == "ScheduleAnyway"
        assert spread["maxSkew"] == 1
        # it counts this component's pods only
        selector = spread["labelSelector"]["matchLabels"]
        assert selector.items() <= template["metadata"]["labels"].items()
        assert selector["app.kubernetes.io/component"] == name


def test_spreading_is_overridable_per_component():
    zone = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
    own = {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
           "labelSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["control"]}]}}
    docs = render(["minimal"], values=[{"services": {"planner": {"topologySpreadConstraints": []},
                                                     "gateway": {"topologySpreadConstraints": [zone]},
                                                     "coordinator": {"topologySpreadConstraints": [own]}}}])
    deps = deployments(docs)
    assert "topologySpreadConstraints" not in deps[f"{PREFIX}-planner"]["spec"]["template"]["spec"]
    (gateway,) = deps[f"{PREFIX}-gateway"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert gateway["topologyKey"] == "topology.kubernetes.io/zone" and gateway["labelSelector"]
    (coordinator,) = deps[f"{PREFIX}-coordinator"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert coordinator == own  # a labelSelector of its own is kept as given
    (worker,) = deps[f"{PREFIX}-worker-web"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert worker["topologyKey"] == "kubernetes.io/hostname"  # the defaults still apply elsewhere
