"""The local fleet: each service its own OS process with its own log file; stopped together."""

import socket
import subprocess
from pathlib import Path

from .nats_server import free_port


def port_or_free(port: int) -> int:
    """`port` when it can be bound on 127.0.0.1, else a free one (0 = any free port)."""
    if port:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    return free_port()


class Fleet:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen, int]] = []
        self._counts: dict[str, int] = {}

    def start(self, name: str, argv: list[str], env: dict, metrics_port: int = 0) -> subprocess.Popen:
        index = self._counts.get(name, 0)
        self._counts[name] = index + 1
        label = name if index == 0 else f"{name}-{index}"
        log = open(self.log_path(label), "ab")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((label, proc, metrics_port))
        return proc

    def log_path(self, label: str) -> Path:
        return self.log_dir / f"{label}.log"

    def exited(self, label: str) -> int | None:
        for name, proc, _ in self.procs:
            if name == label:
                return proc.poll()
        return None

    def crashed(self) -> tuple[str, int] | None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def metrics_ports(self) -> list[tuple[str, int]]:
        return [(name, port) for name, _, port in self.procs if port]

    def pids(self) -> list[int]:
        return [proc.pid for _, proc, _ in self.procs if proc.poll() is None]

    def stop(self) -> None:
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc, _ in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
