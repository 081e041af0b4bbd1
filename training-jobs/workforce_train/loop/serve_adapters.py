"""Serve trained role adapters on ONE base: the project's model server (`workforce-service model-server`,
llama.cpp) with `WF_MODEL_SERVER_LORA=<name>=<adapter.gguf>,…`. llama.cpp loads every adapter at scale 0 and
applies one to a request that names its id in a `lora` field; the services send that field for the model names
listed in `WF_LLM_LORA_ADAPTERS=<name>=<id>,…` (ids: the order of WF_MODEL_SERVER_LORA), so
`WF_LLM_MODELS=caller=<name>,…` gives each role its adapter.

- `process`: a model server started here (detached; its pid is recorded, `stop` ends it).
- `local`: local mode's role switch (`<data-dir>/roles/<service>.json` with `adapters`): it starts the model
  server for the base and the adapters and restarts only that service (the tool worker) on them.
- `none`: nothing is started; the result says what to set.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .register import RegisterError, ask_local_mode, revision_of
from .roles_config import RolesServe


def adapter_settings(adapters: list[dict], models: dict[str, str]) -> dict[str, str]:
    """The WF_* settings of a client of these adapters. `adapters`: [{name, path}] in id order."""
    return {
        "WF_LLM_MODELS": ",".join(f"{role}={name}" for role, name in models.items()),
        "WF_LLM_LORA_ADAPTERS": ",".join(f"{a['name']}={i}" for i, a in enumerate(adapters)),
    }


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def loaded_adapters(url: str) -> list[dict]:
    """The model server's GET /lora-adapters: [{id, path, scale, task_name}]."""
    response = httpx.get(f"{url.rstrip('/')}/lora-adapters", timeout=10)
    response.raise_for_status()
    return response.json()


def _wait_ready(url: str, proc, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RegisterError(f"the model server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RegisterError(f"the model server at {url} was not ready within {timeout_s:.0f} s; see {log_path}")


def serve(cfg: RolesServe, base_gguf: Path, base_alias: str, adapters: list[dict], models: dict[str, str],
          work: Path) -> dict:
    env = adapter_settings(adapters, models)
    lora = ",".join(f"{a['name']}={Path(a['path']).resolve()}" for a in adapters)
    if cfg.kind == "none":
        return {"kind": "none", "todo": f"serve {base_gguf} with WF_MODEL_SERVER_LORA={lora} and give the tool "
                                        f"worker {env}", "env": env}
    if cfg.kind == "local":
        return _serve_local(cfg, base_gguf, base_alias, adapters, models, env)
    port = cfg.port or _free_port(cfg.host)
    url = f"http://{cfg.host}:{port}"
    log_path = work / "serve" / "model-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server_env = {**os.environ, "WF_LOCAL_MODEL": str(Path(base_gguf).resolve()), "WF_MODEL_SERVER_ALIAS": base_alias,
                  "WF_MODEL_SERVER_LORA": lora, "WF_MODEL_SERVER_HOST": cfg.host, "WF_MODEL_SERVER_PORT": str(port),
                  "WF_MODEL_SERVER_THREADS": str(cfg.threads), "WF_MODEL_SERVER_CTX": str(cfg.ctx)}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "workforce.services", "model-server"], env=server_env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(url, proc, cfg.timeout_s, log_path)
    except RegisterError:
        stop({"pid": proc.pid})
        raise
    return {"kind": "process", "url": f"{url}/v1", "pid": proc.pid, "log": str(log_path), "base_alias": base_alias,
            "env": env, "loaded": loaded_adapters(url)}


def _serve_local(cfg: RolesServe, base_gguf, base_alias, adapters, models, env) -> dict:
    try:
        status = ask_local_mode(cfg.data_dir, cfg.service, cfg.timeout_s, "the adapters", {
            "model": str(Path(base_gguf).resolve()), "alias": base_alias,
            "revision": revision_of(Path(base_gguf), base_alias),
            "adapters": [{"name": a["name"], "path": str(Path(a["path"]).resolve())} for a in adapters],
            "models": models})
    except RegisterError as exc:
        if f"no service '{cfg.service}'" in str(exc) and cfg.service == "worker-tool":
            raise RegisterError(f"{exc}: local mode runs worker-tool only when started with a tool registry "
                                "(WF_TOOL_REGISTRY=/path/to/tools.yaml make run)") from None
        raise
    url = status["url"].removesuffix("/v1")
    return {**status, "base_alias": base_alias, "env": env, "loaded": loaded_adapters(url)}


def stop(served: dict) -> bool:
    """Ends a model server this module started (kind process); True when one was running."""
    pid = served.get("pid")
    if not pid or served.get("kind", "process") != "process":
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True
