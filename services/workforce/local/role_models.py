"""Serving a newly trained model for one service while local mode runs — local mode's counterpart of rolling
out one Deployment with a new model, e.g. the planner trained by `workforce-train loop`.

A request is a file `<data-dir>/roles/<service>.json`: `{"model": "/abs/planner.gguf", "alias": "owl-planner-r1",
"revision": "…"}`. When one appears or its revision changes, local mode starts a model server for that GGUF
(`model-server-<service>`, the same `workforce-service model-server` as the system's own), waits until it
answers, then restarts only that service with its endpoint (WF_LLM_BASE_URL) and model name
(WF_LLM_MODELS <role>=<alias>); every other process keeps running. `"model": ""` puts the service back on the
system's model and stops its own server. With `"adapters": [{"name", "path"}]` and `"models": {role: name}`
(`workforce-train roles`: LoRA adapters of the roles, e.g. the tool worker's α-UMi planner / caller / summarizer),
the model server loads the adapters on that base (WF_MODEL_SERVER_LORA) and the service gets
WF_LLM_MODELS <role>=<adapter name> for each role and WF_LLM_LORA_ADAPTERS, so that each role's requests select
its adapter. The outcome is written to `<service>.status.json`:
`{"revision", "state": "serving" | "failed", "service", "alias", "url", "pid", "error"}`.
"""

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from .processes import Fleet, port_or_free
from .readiness import wait_for_model

log = logging.getLogger(__name__)
STATUS_SUFFIX = ".status.json"


def role_of(service: str) -> str:
    """The WF_LLM_MODELS role of a service process: planner, coordinator, worker:<type>."""
    return service.replace("worker-", "worker:", 1) if service.startswith("worker-") else service


class RoleModels:
    def __init__(self, folder: Path, fleet: Fleet, ready_timeout_s: float = 180.0):
        self.folder = folder
        self.fleet = fleet
        self.ready_timeout_s = ready_timeout_s
        self.applied: dict[str, str] = {}  # service → revision
        self.original: dict[str, dict] = {}  # service → the env it first ran with
        folder.mkdir(parents=True, exist_ok=True)

    def poll(self) -> list[str]:
        """Applies every new request; returns one line per change, for the console."""
        lines = []
        for path in sorted(self.folder.glob("*.json")):
            if path.name.endswith(STATUS_SUFFIX):
                continue
            service = path.stem
            try:
                request = json.loads(path.read_text())
                revision = str(request.get("revision") or request.get("model", ""))
            except (OSError, ValueError, AttributeError):
                continue  # being written, or not a request: looked at again next time
            if self.applied.get(service) == revision:
                continue
            self.applied[service] = revision
            status = self._apply(service, request, revision)
            (self.folder / f"{service}{STATUS_SUFFIX}").write_text(json.dumps(status, indent=2))
            lines.append(f"{service}: {status['state']} {status.get('alias') or ''} {status.get('error') or ''}".strip())
        return lines

    def _apply(self, service: str, request: dict, revision: str) -> dict:
        status = {"revision": revision, "service": service, "at": time.time()}
        if service not in self.fleet.specs:
            return {**status, "state": "failed", "error": f"no service {service!r} in this system"}
        self.original.setdefault(service, dict(self.fleet.specs[service][1]))
        original = self.original[service]
        server = f"model-server-{service}"
        model, alias = str(request.get("model") or ""), str(request.get("alias") or "")
        if not model:  # back to the system's model
            self.fleet.remove(server)
            proc = self.fleet.replace(service, original)
            return {**status, "state": "serving", "alias": original.get("WF_LLM_MODEL", ""), "pid": proc.pid,
                    "url": original.get("WF_LLM_BASE_URL", "")}
        if not Path(model).is_file() or not alias:
            return {**status, "state": "failed", "error": f"needs an existing model file and an alias: {request}"}
        adapters = request.get("adapters") or []
        if not all(isinstance(a, dict) and a.get("name") and Path(str(a.get("path"))).is_file() for a in adapters):
            return {**status, "state": "failed", "error": f"every adapter needs a name and an existing file: {adapters}"}
        self.fleet.remove(server)
        port = port_or_free(0)
        url = f"http://127.0.0.1:{port}"
        self.fleet.start(server, [sys.executable, "-m", "workforce.services", "model-server"],
                         {**original, "WF_LOCAL_MODEL": str(Path(model).resolve()), "WF_MODEL_SERVER_ALIAS": alias,
                          "WF_MODEL_SERVER_PORT": str(port),
                          "WF_MODEL_SERVER_LORA": ",".join(f"{a['name']}={a['path']}" for a in adapters)})
        problem = wait_for_model(url, self.fleet, server, self.ready_timeout_s)
        if problem:
            self.fleet.remove(server)
            return {**status, "state": "failed", "error": f"the model server did not start: {problem}"}
        own = {role_of(service): alias, **{str(r): str(n) for r, n in (request.get("models") or {}).items()}}
        models = ",".join([*(f"{r}={n}" for r, n in own.items()),
                           *[p for p in original.get("WF_LLM_MODELS", "").split(",")
                             if p.strip() and p.partition("=")[0] not in own]])
        env = {**original, "WF_LLM_BASE_URL": f"{url}/v1", "WF_LLM_MODELS": models}
        if adapters:
            env["WF_LLM_LORA_ADAPTERS"] = ",".join(f"{a['name']}={i}" for i, a in enumerate(adapters))
        proc = self.fleet.replace(service, env)
        grpc_port = int(original.get("WF_GRPC_PORT", "0") or 0)
        if grpc_port and not _listening(grpc_port, proc, 60.0):
            return {**status, "state": "failed", "error": f"{service} did not come back; see {self.fleet.log_path(service)}"}
        log.info("%s now uses %s at %s", service, alias, url)
        return {**status, "state": "serving", "alias": alias, "url": f"{url}/v1", "pid": proc.pid, "model": model}


def _listening(port: int, proc, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def request_path(data_dir: str | os.PathLike, service: str) -> Path:
    return Path(data_dir) / "roles" / f"{service}.json"
