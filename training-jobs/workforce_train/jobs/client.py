"""Submit, inspect and read logs of training Jobs with the official `kubernetes` Python client
(kubeconfig, or the in-cluster service account when running inside the cluster)."""

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from .render import LABEL


def _load() -> None:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except config.ConfigException as exc:
            raise RuntimeError(f"no Kubernetes configuration (in-cluster or kubeconfig): {exc}") from exc


def submit(manifests: list[dict]) -> list[str]:
    _load()
    api = client.ApiClient()
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    created = []
    for m in manifests:
        namespace = m["metadata"]["namespace"]
        try:
            if m["kind"] == "Job":
                batch.create_namespaced_job(namespace, m)
            elif m["kind"] == "Service":
                core.create_namespaced_service(namespace, m)
            else:
                raise ValueError(f"unexpected kind {m['kind']}")
        except ApiException as exc:
            raise RuntimeError(
                f"creating {m['kind']} {m['metadata']['name']}: {exc.status} {exc.reason}: {exc.body}"
            ) from exc
        created.append(f"{m['kind'].lower()}/{m['metadata']['name']}")
    return created


def status(name: str, namespace: str) -> dict:
    _load()
    try:
        job = client.BatchV1Api().read_namespaced_job_status(name, namespace)
    except ApiException as exc:
        raise RuntimeError(f"job {namespace}/{name}: {exc.status} {exc.reason}") from exc
    s = job.status
    conditions = [
        {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
        for c in s.conditions or []
    ]
    state = "running" if (s.active or 0) else "pending"
    for c in conditions:
        if c["status"] == "True" and c["type"] in ("Complete", "Failed", "Suspended"):
            state = c["type"].lower()
    return {
        "name": name,
        "namespace": namespace,
        "step": (job.metadata.labels or {}).get(LABEL, ""),
        "state": state,
        "active": s.active or 0,
        "succeeded": s.succeeded or 0,
        "failed": s.failed or 0,
        "start_time": str(s.start_time or ""),
        "completion_time": str(s.completion_time or ""),
        "conditions": conditions,
    }


def logs(name: str, namespace: str, *, tail: int | None = None) -> dict[str, str]:
    _load()
    core = client.CoreV1Api()
    pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={name}").items
    if not pods:
        raise RuntimeError(f"job {namespace}/{name} has no pods (yet)")
    return {
        p.metadata.name: core.read_namespaced_pod_log(p.metadata.name, namespace, tail_lines=tail)
        for p in sorted(pods, key=lambda p: p.metadata.name)
    }
