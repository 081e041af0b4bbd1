"""The whole system for end-to-end tests: a real nats-server, the scripted LLM server, and every service as a
separate OS process (`workforce-service <name>`), talking over real ports.

    system = System(tmp_path, workers={"echo": 2}).start()
    task_id = system.submit("…")["task_id"]
    record = system.wait(task_id)
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from workforce.local.nats_server import NatsServer, free_port

from .scripted_llm import ScriptedLLM

API_KEY = "test-secret-key"
TERMINAL = {"TASK_STATUS_SUCCEEDED", "TASK_STATUS_FAILED", "TASK_STATUS_CANCELLED"}
SERVICE_BIN = str(Path(sys.executable).parent / "workforce-service")


class Service:
    def __init__(self, name: str, env: dict, log_path: Path):
        self.name, self.env, self.log_path = name, env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Service":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SERVICE_BIN, self.name], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)
            self.proc.wait(15)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class System:
    def __init__(self, tmp: Path, workers: dict[str, int] | None = None, env: dict | None = None,
                 llm: ScriptedLLM | None = None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.worker_counts = workers if workers is not None else {"echo": 2}
        self.extra_env = env or {}
        # Every service connects as its own NATS user with its permissions (core/channel/identities.py), as in
        # local mode; test code connecting without credentials is an unrestricted user.
        from workforce.local import nats_auth

        self.nats_passwords = nats_auth.make_passwords()
        (self.tmp / "nats").mkdir(exist_ok=True)
        config = nats_auth.write_config(self.tmp / "nats" / "nats.conf", self.nats_passwords, anonymous_admin=True)
        self.nats = NatsServer(store_dir=str(self.tmp / "nats"), config=str(config))
        self.llm = llm or ScriptedLLM(log_dir=str(self.tmp))
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.services: dict[str, list[Service]] = {}
        self.http: httpx.Client | None = None

    # ---- lifecycle ----

    def env_for(self, name: str, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
        env.update({
            "WF_NATS_URL": self.nats.url, "WF_LLM_BASE_URL": self.llm.base_url, "WF_LLM_MAX_RETRIES": "1",
            "WF_API_KEYS": f"test:{API_KEY}", "WF_GRPC_PORT": str(free_port()), "WF_METRICS_PORT": str(free_port()),
            "WF_ACK_WAIT_S": "3", "WF_MAX_DELIVER": "3", "WF_WORKER_REGISTRY_TTL_S": "6", "WF_BIND_HOST": "127.0.0.1",
            "WF_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
        })
        if name == "gateway":
            env["WF_GRPC_PORT"], env["WF_HTTP_PORT"] = str(self.grpc_port), str(self.http_port)
        from workforce.local import nats_auth

        env.update(nats_auth.service_env(name, self.nats_passwords))
        env.update(self.extra_env)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def start_service(self, name: str, **env) -> Service:
        index = len(self.services.get(name, []))
        service = Service(name, self.env_for(name, **env), self.tmp / f"{name}-{index}.log").start()
        self.services.setdefault(name, []).append(service)
        return service

    def start(self, timeout: float = 90) -> "System":
        own_llm = self.llm.proc is None
        try:
            return self._start(timeout)
        except BaseException:   # a start that fails midway leaves nothing of its own running
            self._stop_services()
            if own_llm:
                self.llm.stop()
            self.nats.stop()
            raise

    def _start(self, timeout: float) -> "System":
        self.nats.start()
        if self.llm.proc is None:
            self.llm.start()
        if "code" in self.worker_counts and "WF_SANDBOX_URL" not in self.extra_env:
            port = free_port()  # the code worker's sandbox executor, its own process as in local mode
            self.start_service("sandbox", WF_GRPC_PORT=port)
            self.extra_env["WF_SANDBOX_URL"] = f"127.0.0.1:{port}"
        for name in ("gateway", "planner", "coordinator"):
            self.start_service(name)
        for worker_type, count in self.worker_counts.items():
            for _ in range(count):
                self.start_service(f"worker-{worker_type}")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}",
                                 headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._check_alive()
            try:
                pools = {p["worker_type"]: p.get("replicas", 0) for p in self.http.get("/v1/workers").json()["pools"]}
                if all(pools.get(t, 0) >= n for t, n in self.worker_counts.items()) and self._port_open(
                        int(self.services["planner"][0].env["WF_GRPC_PORT"])) and self._port_open(
                        int(self.services["coordinator"][0].env["WF_GRPC_PORT"])):
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("the system did not become ready:\n" + self.logs())

    @staticmethod
    def _port_open(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def _check_alive(self) -> None:
        for name, services in self.services.items():
            for s in services:
                if s.proc and s.proc.poll() is not None and not getattr(s, "killed", False):
                    raise RuntimeError(f"{name} exited with {s.proc.returncode}:\n{s.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self._stop_services()
        self.llm.stop()
        self.nats.stop()

    def _stop_services(self) -> None:
        everything = [s for services in self.services.values() for s in services if s.alive()]
        for s in everything:  # all at once: each takes a moment to drain
            s.proc.terminate()
        for s in everything:
            try:
                s.proc.wait(15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
        if self.http:
            self.http.close()

    def logs(self, tail: int = 2000) -> str:
        out = []
        for path in sorted(self.tmp.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    # ---- the API ----

    def submit(self, question: str, **fields) -> dict:
        response = self.http.post("/v1/tasks", json={"question": question, **fields})
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, task_id: str) -> dict:
        response = self.http.get(f"/v1/tasks/{task_id}")
        response.raise_for_status()
        return response.json()

    def wait(self, task_id: str, timeout: float = 60) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            record = self.get(task_id)
            if record.get("status") in TERMINAL:
                return record
            time.sleep(0.1)
        raise TimeoutError(f"task {task_id} did not finish: {self.get(task_id)}\n{self.logs()}")

    def cancel(self, task_id: str, reason: str = "") -> dict:
        response = self.http.post(f"/v1/tasks/{task_id}/cancel", json={"reason": reason})
        response.raise_for_status()
        return response.json()

    def log_has(self, service: str, text: str, timeout: float = 10) -> bool:
        """Whether a service's log shows `text` within the timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in p.read_text(errors="replace") for p in self.tmp.glob(f"{service}*.log")):
                return True
            time.sleep(0.1)
        return False

    def events(self, task_id: str, from_seq: int = 0, timeout: float = 60, until: str = "") -> list[dict]:
        """The task's events over Server-Sent Events, until the terminal event (or the first `until` event)."""
        out = []
        with self.http.stream("GET", f"/v1/tasks/{task_id}/events", params={"from_seq": from_seq},
                              timeout=timeout) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    out.append(json.loads(line[5:].strip()))
                    if out[-1]["type"] in ("task.succeeded", "task.failed", "task.cancelled", until):
                        break
        return out


def dispatches(events: list[dict]) -> list[tuple[int, dict]]:
    """(index of the event, {subtask_id, worker_type, attempt_id}) for every subtask an event set going (the
    coordinator lists them in the `dispatched` data of the event that made them ready)."""
    return [(i, d) for i, e in enumerate(events) for d in (e.get("data") or {}).get("dispatched") or []]


def plan_events(events: list[dict]) -> list[dict]:
    """The events that tell a plan the planner wrote (subtasks, planner call): plan.created / plan.replanned, or
    plan.assigned when the assignment was quick and no plan.created came before it."""
    return [e for e in events if e["type"] in ("plan.created", "plan.replanned")
            or e["type"] == "plan.assigned" and "subtasks" in (e.get("data") or {})]


def stored_events(nats_url: str, task_id: str) -> list[dict]:
    """Every event stored for a task, read straight from the stream (also those after the terminal event)."""
    import asyncio

    import nats

    from workforce.core.channel.events import event_dict
    from workforce.v1 import channel_pb2

    async def read():
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(f"wf.events.{task_id}", ordered_consumer=True, stream="WF_EVENTS")
            out = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except nats.errors.TimeoutError:
                    return out
                event = channel_pb2.TaskEvent.FromString(msg.data)
                event.seq = msg.metadata.sequence.stream
                out.append(event_dict(event))
                out[-1]["_msg_id"] = (msg.headers or {}).get("Nats-Msg-Id", "")   # the publisher's dedupe id
        finally:
            await nc.close()

    return asyncio.run(read())
