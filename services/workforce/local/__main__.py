"""`make run` / `python -m workforce.local`: the whole system on one machine.

nats-server with JetStream in a data directory, the local model server (unless WF_LLM_BASE_URL names another
OpenAI-compatible endpoint), then every service as its own process. "Ready" is printed once the gateway answers
and every worker pool has registered. Ctrl-C stops everything."""

import argparse
import importlib.util
import os
import secrets
import signal
import shutil
import sys
import time
from pathlib import Path

from . import nats_auth
from .nats_server import NatsServer
from .processes import Fleet, port_or_free
from .readiness import wait_for_model, wait_ready
from .role_models import RoleModels

PRODUCT_WORKERS = ("web", "document", "code", "tool")
# What the local default model (a small one) needs from the services; any of these set by the user wins.
SMALL_MODEL_DEFAULTS = {
    "WF_LLM_TOOL_MODE": "json",            # one schema-constrained JSON step at a time
    "WF_LLM_SCHEMA_MODE": "llguidance",     # compact constrained JSON from llama.cpp
    "WF_MAX_SUBTASKS": "4",
    "WF_SUBTASK_CHARS": "300",
    "WF_RESULT_CHARS": "160",
    "WF_ANSWER_CHARS": "120",
    "WF_TOOL_ARG_CHARS": "600",
    "WF_MAX_TOOL_CALLS": "6",
    "WF_LLM_TIMEOUT_S": "300",              # requests queue for the server's slots
}


def sandbox_env(base: dict) -> dict:
    """The sandbox executor's environment: no API keys, no channel address, nothing it does not need."""
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in base.items()
            if k in keep or k.startswith(("WF_CODE_", "WF_SANDBOX_", "WF_LOG_", "WF_BIND_"))}


def default_workers() -> list[str]:
    """Every installed worker type that has something to work with: worker-tool only with a tool registry
    (a pool without tools would only be assigned subtasks it must fail)."""
    found = [w for w in PRODUCT_WORKERS if importlib.util.find_spec(f"workforce.workers.{w}") is not None]
    if not os.environ.get("WF_TOOL_REGISTRY"):
        found = [w for w in found if w != "tool"]
    return found or ["echo"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workforce.local", description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("WF_LOCAL_DIR", ".local"))
    parser.add_argument("--workers", default="", help="comma-separated worker types (default: all installed)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("WF_HTTP_PORT", 8080)))
    parser.add_argument("--grpc-port", type=int, default=int(os.environ.get("WF_GRPC_PORT", 50051)))
    parser.add_argument("--metrics-base", type=int, default=int(os.environ.get("WF_LOCAL_METRICS_BASE", 9464)),
                        help="first Prometheus port; service i gets base + i")
    parser.add_argument("--no-auth", action="store_true", help="turn API-key auth off (local use only)")
    parser.add_argument("--ready-timeout", type=float, default=float(os.environ.get("WF_LOCAL_READY_TIMEOUT_S", 120)))
    args = parser.parse_args(argv)
    started = time.monotonic()

    data = Path(args.data_dir).resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    key = os.environ.get("WF_API_KEYS") or f"local:{secrets.token_urlsafe(24)}"
    key_file = data / "api-key"
    key_file.touch(mode=0o600)
    key_file.chmod(0o600)  # readable by its owner only
    key_file.write_text(key.split(",")[0].partition(":")[2] or key)
    workers = [w.strip() for w in (args.workers.split(",") if args.workers else default_workers()) if w.strip()]

    fleet = Fleet(data / "logs")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    source = None
    if not os.environ.get("WF_LLM_BASE_URL"):
        from ..core.local_model import ModelNotFound, resolve

        try:  # before anything starts: one clear line when there is no model to run with
            source = resolve(os.environ.get("WF_LOCAL_MODEL", ""), os.environ.get("WF_MODEL_SERVER_ALIAS", ""))
        except ModelNotFound as exc:
            print(f"workforce: no model to run with — {exc}", file=sys.stderr)
            return 2
    passwords = nats_auth.make_passwords()  # one NATS user per service (core/channel/identities.py)
    (data / "nats").mkdir(exist_ok=True)
    config = nats_auth.write_config(data / "nats" / "nats.conf", passwords)
    nats = NatsServer(store_dir=str(data / "nats"), port=int(os.environ.get("WF_NATS_PORT", 4222)),
                      config=str(config)).start()
    try:
        base = {**os.environ, "WF_NATS_URL": nats.url, "WF_API_KEYS": key, "WF_BIND_HOST": "127.0.0.1"}
        if args.no_auth:
            base["WF_AUTH_DISABLED"] = "true"
        model_line = f"model: {os.environ.get('WF_LLM_MODEL', 'default')} at {os.environ.get('WF_LLM_BASE_URL', '')}"
        if source is not None:
            model = _start_model_server(fleet, base, source)
            if model is None:
                return 2
            name, url = model
            base.update({"WF_LLM_BASE_URL": f"{url}/v1", "WF_LLM_MODEL": name})
            base.update({k: v for k, v in SMALL_MODEL_DEFAULTS.items() if k not in os.environ})
            model_line = f"model: {name} (local model server {url}, metrics {url}/metrics)"

        plan = [("gateway", {"WF_HTTP_PORT": str(args.http_port), "WF_GRPC_PORT": str(args.grpc_port)}),
                ("planner", {}), ("coordinator", {})]
        if "code" in workers:  # model-written code runs only in the sandbox executor, its own process
            sandbox_port = port_or_free(0)
            plan.append(("sandbox", {"WF_GRPC_PORT": str(sandbox_port)}))
            base["WF_SANDBOX_URL"] = f"127.0.0.1:{sandbox_port}"
        plan += [(f"worker-{w}", {}) for w in workers for _ in range(args.replicas)]
        for i, (name, env) in enumerate(plan):
            metrics = port_or_free(args.metrics_base + i)
            inherited = sandbox_env(base) if name == "sandbox" else base
            fleet.start(name, [sys.executable, "-m", "workforce.services", name],
                        {**inherited, **nats_auth.service_env(name, passwords), "WF_GRPC_PORT": str(port_or_free(0)),
                         "WF_METRICS_PORT": str(metrics), **env}, metrics_port=metrics)

        api = f"http://127.0.0.1:{args.http_port}"
        problem = wait_ready(api, key_file.read_text(), {w: args.replicas for w in workers}, fleet,
                             args.ready_timeout, lambda: stopping)
        if problem:
            print(f"workforce: not ready — {problem}; logs in {data / 'logs'}", file=sys.stderr)
            return 1
        print(f"workforce: ready in {time.monotonic() - started:.1f} s")
        print(f"  API      {api}  (OpenAPI docs {api}/docs, console {api}/)   gRPC 127.0.0.1:{args.grpc_port}")
        print(f"  {model_line}")
        print("  metrics  " + "  ".join(f"{name} :{port}" for name, port in fleet.metrics_ports()))
        print(f"  API key  {key_file}   logs {data / 'logs'}   NATS {nats.url}")
        print(f'  try      {_cli()} submit "What is 17 * 23? Check it with Python."   (Ctrl-C stops everything)',
              flush=True)
        roles = RoleModels(data / "roles", fleet)  # models trained while running (workforce-train loop)
        while not stopping:
            for line in roles.poll():
                print(f"workforce: {line}", flush=True)
            crashed = fleet.crashed()
            if crashed:
                name, code = crashed
                print(f"workforce: {name} exited with {code}; see {fleet.log_path(name)}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        fleet.stop()
        nats.stop()
        print("workforce: stopped")


def _start_model_server(fleet: Fleet, base: dict, source) -> tuple[str, str] | None:
    """Start the local model server; (model name, base URL) once it answers, or None after saying why."""
    port = port_or_free(int(os.environ.get("WF_MODEL_SERVER_PORT", 8090)))
    env = {**base, "WF_MODEL_SERVER_PORT": str(port), "WF_MODEL_SERVER_ALIAS": source.name}
    fleet.start("model-server", [sys.executable, "-m", "workforce.services", "model-server"], env)
    url = f"http://127.0.0.1:{port}"
    problem = wait_for_model(url, fleet, "model-server", timeout_s=float(os.environ.get("WF_MODEL_READY_TIMEOUT_S", 180)))
    if problem:
        print(f"workforce: the model server did not start — {problem}", file=sys.stderr)
        return None
    return source.name, url


def _cli() -> str:
    """How to run the `workforce` CLI from here: the venv's script (it is not on PATH unless the venv is active)."""
    script = Path(sys.executable).parent / "workforce"
    if not script.exists() or shutil.which("workforce") == str(script):
        return "workforce"
    try:
        return os.path.relpath(script)
    except ValueError:
        return str(script)


if __name__ == "__main__":
    sys.exit(main())

