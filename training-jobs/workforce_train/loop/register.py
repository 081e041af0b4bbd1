"""Put the exported planner model into service, restarting nothing but the planner.

- `local`: `python -m workforce.local` watches `<data-dir>/roles/<service>.json`; it starts a model server for
  the GGUF under the new name and restarts only that service against it (services/workforce/local/role_models.py),
  then writes `<service>.status.json`, which is awaited here.
- `kubernetes`: a model-server Deployment + Service serving the GGUF from the checkpoint volume, then a patch of
  the planner Deployment's WF_LLM_BASE_URL / WF_LLM_MODELS — Kubernetes rolls the planner's pods only — and a
  wait for that rollout.
- `none`: nothing is changed; the result says what to set.
"""

import hashlib
import json
import logging
import re
import time
from pathlib import Path

from .. import __version__
from .config import Serve

log = logging.getLogger(__name__)


class RegisterError(RuntimeError):
    """The new model could not be put into service; the message says why."""


def revision_of(gguf_path: Path, alias: str) -> str:
    """New for every request (a redone register stage is applied again), traceable to the file it serves."""
    stat = gguf_path.stat()
    key = f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{alias}:{time.time_ns()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def register(cfg: Serve, gguf_path: Path, alias: str) -> dict:
    if cfg.kind == "local":
        return register_local(cfg, gguf_path, alias)
    if cfg.kind == "kubernetes":
        return register_kubernetes(cfg, gguf_path, alias)
    return {"kind": "none", "alias": alias, "model": str(gguf_path),
            "todo": f"serve {gguf_path} as {alias!r} and set the planner's WF_LLM_MODELS planner={alias}"}


def register_local(cfg: Serve, gguf_path: Path, alias: str) -> dict:
    revision = revision_of(gguf_path, alias)
    return ask_local_mode(cfg.data_dir, cfg.service, cfg.timeout_s, alias, {
        "model": str(gguf_path.resolve()), "alias": alias, "revision": revision})


def ask_local_mode(data_dir: str, service: str, timeout_s: float, what: str, request_body: dict) -> dict:
    """Hand a running local mode a model switch for `service` (a file in <data dir>/roles it watches) and wait
    for its answer for this request's revision."""
    folder = Path(data_dir) / "roles"
    if not Path(data_dir).is_dir():
        raise RegisterError(f"{data_dir}: not a local-mode data directory (python -m workforce.local --data-dir)")
    folder.mkdir(exist_ok=True)
    revision = request_body["revision"]
    request, status_path = folder / f"{service}.json", folder / f"{service}.status.json"
    status_path.unlink(missing_ok=True)  # only local mode's answer to this request counts
    previous = request.read_text() if request.is_file() else None
    _write_request(request, json.dumps(request_body))
    try:
        return _await_status(status_path, revision, timeout_s, what, request)
    except RegisterError:  # a failed request must not be applied later (local mode applies the file on start)
        _write_request(request, previous)
        raise


def _write_request(request: Path, text: str | None) -> None:
    """`request` replaced atomically by `text`; None removes it."""
    if text is None:
        request.unlink(missing_ok=True)
        return
    tmp = request.with_name(f".{request.name}.tmp")
    tmp.write_text(text)
    tmp.replace(request)


def _await_status(status_path: Path, revision: str, timeout_s: float, what: str, request: Path) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = json.loads(status_path.read_text())
        except (OSError, ValueError):
            status = {}
        if status.get("revision") == revision:
            if status.get("state") != "serving":
                raise RegisterError(f"local mode could not serve {what}: {status.get('error')}")
            return {"kind": "local", **status}
        time.sleep(0.5)
    raise RegisterError(f"local mode did not pick up {request} within {timeout_s:.0f} s "
                        "(is `python -m workforce.local` running with that --data-dir?)")


# --- Kubernetes ---

def _k8s_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:52].rstrip("-")


def model_server_manifests(cfg: Serve, gguf_path: Path, alias: str) -> list[dict]:
    """Deployment + Service: `workforce-service model-server` serving the exported GGUF from the checkpoint volume."""
    name = _k8s_name(f"{cfg.release}-model-{alias}")
    # Not component "model-server": the chart's own model server Service selects that label, and must not send
    # the other roles' requests here. Name and instance make it one of the release's pods for NetworkPolicies.
    labels = {"app.kubernetes.io/name": "workforce", "app.kubernetes.io/instance": cfg.release,
              "app.kubernetes.io/component": "trained-model-server", "workforce.dev/model": _k8s_name(alias)}
    try:
        rel = Path(gguf_path).relative_to(cfg.model_mount)
    except ValueError:
        raise RegisterError(f"{gguf_path} is not on the model volume mounted at {cfg.model_mount}") from None
    env = [{"name": "WF_LOCAL_MODEL", "value": f"/models/{rel}"}, {"name": "WF_MODEL_SERVER_ALIAS", "value": alias},
           {"name": "WF_MODEL_SERVER_HOST", "value": "0.0.0.0"}, {"name": "WF_MODEL_SERVER_PORT", "value": "8090"},
           {"name": "WF_MODEL_SERVER_THREADS", "value": "2"}]
    container = {
        "name": "model-server", "image": cfg.image or f"workforce-modelserver:{__version__}",
        "args": ["model-server"], "env": env, "ports": [{"name": "http", "containerPort": 8090}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}},
        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": cfg.namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "containers": [container],
                     "volumes": [{"name": "models", "persistentVolumeClaim": {
                         "claimName": cfg.model_volume_claim, "readOnly": True}}]}}},
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": cfg.namespace, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 8090, "targetPort": "http"}]},
    }
    return [deployment, service]


def planner_env_patch(cfg: Serve, url: str, alias: str, current_models: str = "") -> dict:
    """A strategic-merge patch of the planner Deployment: its endpoint and its model name (env merged by name)."""
    role = cfg.service
    models = ",".join([f"{role}={alias}", *[p for p in current_models.split(",")
                                            if p.strip() and p.partition("=")[0].strip() != role]])
    return {"spec": {"template": {"metadata": {"annotations": {"workforce.dev/planner-model": alias}},
                                  "spec": {"containers": [{"name": cfg.service, "env": [
                                      {"name": "WF_LLM_BASE_URL", "value": url},
                                      {"name": "WF_LLM_MODELS", "value": models}]}]}}}}


def register_kubernetes(cfg: Serve, gguf_path: Path, alias: str) -> dict:  # pragma: no cover - needs a cluster
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from ..jobs.client import _load

    _load()
    apps, core = client.AppsV1Api(), client.CoreV1Api()
    manifests = model_server_manifests(cfg, gguf_path, alias)
    for m in manifests:
        create, replace = ((apps.create_namespaced_deployment, apps.replace_namespaced_deployment)
                           if m["kind"] == "Deployment" else
                           (core.create_namespaced_service, core.patch_namespaced_service))
        try:
            create(cfg.namespace, m)
        except ApiException as exc:
            if exc.status != 409:
                raise RegisterError(f"creating {m['kind']} {m['metadata']['name']}: {exc.status} {exc.reason}") from exc
            replace(m["metadata"]["name"], cfg.namespace, m)
    name = manifests[0]["metadata"]["name"]
    _wait_rollout(apps, cfg, name)
    url = f"http://{name}.{cfg.namespace}.svc:8090/v1"
    planner = cfg.deployment or f"{cfg.release}-{cfg.service}"
    current = apps.read_namespaced_deployment(planner, cfg.namespace)
    env = {e.name: e.value for c in current.spec.template.spec.containers for e in (c.env or [])}
    apps.patch_namespaced_deployment(planner, cfg.namespace, planner_env_patch(cfg, url, alias,
                                                                               env.get("WF_LLM_MODELS") or ""))
    _wait_rollout(apps, cfg, planner)
    return {"kind": "kubernetes", "state": "serving", "alias": alias, "url": url, "deployment": planner,
            "model_server": name}


def _wait_rollout(apps, cfg: Serve, name: str) -> None:  # pragma: no cover - needs a cluster
    deadline = time.monotonic() + cfg.timeout_s
    while time.monotonic() < deadline:
        d = apps.read_namespaced_deployment_status(name, cfg.namespace)
        want = d.spec.replicas or 0
        s = d.status
        if (s.observed_generation or 0) >= d.metadata.generation and (s.updated_replicas or 0) == want \
                and (s.available_replicas or 0) >= want and (s.replicas or 0) == want:
            return
        time.sleep(3)
    raise RegisterError(f"deployment {cfg.namespace}/{name} did not roll out within {cfg.timeout_s:.0f} s")
