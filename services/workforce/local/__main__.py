"""`make run` / `python -m workforce.local`: nats-server with JetStream in a data directory, then every service as
its own process. Ctrl-C stops everything."""

import argparse
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..core.config import get_settings
from . import nats_auth
from .nats_server import NatsServer, free_port
from .preflight import model_problem

PRODUCT_WORKERS = ("web", "document", "code", "tool")


def default_workers() -> list[str]:
    found = [w for w in PRODUCT_WORKERS if importlib.util.find_spec(f"workforce.workers.{w}") is not None]
    return found or ["echo"]


def sandbox_env(base: dict) -> dict:
    """The sandbox executor's environment: no API keys, no channel address, nothing it does not need."""
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in base.items()
            if k in keep or k.startswith(("WF_CODE_", "WF_SANDBOX_", "WF_LOG_", "WF_BIND_"))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workforce.local", description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("WF_LOCAL_DIR", ".local"))
    parser.add_argument("--workers", default="", help="comma-separated worker types (default: all installed)")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("WF_HTTP_PORT", 8080)))
    parser.add_argument("--grpc-port", type=int, default=int(os.environ.get("WF_GRPC_PORT", 50051)))
    parser.add_argument("--no-auth", action="store_true", help="turn API-key auth off (local use only)")
    args = parser.parse_args(argv)

    problem = model_problem(get_settings())
    if problem:
        print(f"workforce: no model to run with — {problem}", file=sys.stderr)
        return 2

    data = Path(args.data_dir).resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    key = os.environ.get("WF_API_KEYS") or f"local:{secrets.token_urlsafe(24)}"
    (data / "api-key").write_text(key.split(",")[0].partition(":")[2] or key)
    passwords = nats_auth.make_passwords()  # one NATS user per service (core/channel/identities.py)
    (data / "nats").mkdir(exist_ok=True)
    config = nats_auth.write_config(data / "nats" / "nats.conf", passwords)
    nats = NatsServer(store_dir=str(data / "nats"), port=int(os.environ.get("WF_NATS_PORT", 4222)),
                      config=str(config)).start()
    base = {"WF_EMBEDDED_THREADS": "1",  # torch with 2 threads per process is several times slower on small hosts
            **os.environ, "WF_NATS_URL": nats.url, "WF_API_KEYS": key, "WF_BIND_HOST": "127.0.0.1"}
    if args.no_auth:
        base["WF_AUTH_DISABLED"] = "true"
    plan = [("gateway", {"WF_HTTP_PORT": str(args.http_port), "WF_GRPC_PORT": str(args.grpc_port)}),
            ("planner", {}), ("coordinator", {})]
    workers = [w.strip() for w in (args.workers.split(",") if args.workers else default_workers())]
    if "code" in workers:  # model-written code runs only in the sandbox executor, its own process
        sandbox_port = free_port()
        plan.append(("sandbox", {"WF_GRPC_PORT": str(sandbox_port)}))
        base["WF_SANDBOX_URL"] = f"127.0.0.1:{sandbox_port}"
    for worker in workers:
        plan += [(f"worker-{worker}", {})] * args.replicas
    procs = []
    for i, (name, env) in enumerate(plan):
        env = {"WF_GRPC_PORT": str(free_port()), "WF_METRICS_PORT": str(free_port()), **env}
        log = open(data / "logs" / f"{name}-{i}.log", "ab")
        inherited = sandbox_env(base) if name == "sandbox" else base
        env = {**inherited, **nats_auth.service_env(name, passwords), **env}
        procs.append((name, subprocess.Popen([sys.executable, "-m", "workforce.services", name],
                                             env=env, stdout=log, stderr=subprocess.STDOUT)))
    print(f"workforce: {len(procs)} services up; gateway http://127.0.0.1:{args.http_port} "
          f"(gRPC :{args.grpc_port}); API key in {data / 'api-key'}; logs in {data / 'logs'}")
    print('workforce: try  workforce submit "What is 17 * 23?"   — Ctrl-C stops everything')
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"workforce: {name} exited with {proc.returncode}; see {data / 'logs'}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        nats.stop()
        print("workforce: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
