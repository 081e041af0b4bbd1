"""The local fleet: each service its own OS process with its own log file; stopped together."""

import socket
import subprocess
from pathlib import Path

from .nats_server import free_port


_HANDED_OUT: set[int] = set()  # ports given to services not yet listening: never hand one out twice


def port_or_free(port: int) -> int:
    """`port` when it can be bound on 127.0.0.1 and was not handed out already, else a free one (0 = any)."""
    if port and port not in _HANDED_OUT:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                _HANDED_OUT.add(port)
                return port
            except OSError:
                pass
    while True:
        candidate = free_port()
        if candidate not in _HANDED_OUT:
            _HANDED_OUT.add(candidate)
            return candidate


class Fleet:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen, int]] = []
        self._counts: dict[str, int] = {}
        self.specs: dict[str, tuple[list[str], dict]] = {}  # label → (argv, env) it was started with

    def start(self, name: str, argv: list[str], env: dict, metrics_port: int = 0) -> subprocess.Popen:
        index = self._counts.get(name, 0)
        self._counts[name] = index + 1
        label = name if index == 0 else f"{name}-{index}"
        proc = self._spawn(label, argv, env)
        self.procs.append((label, proc, metrics_port))
        return proc

    def _spawn(self, label: str, argv: list[str], env: dict) -> subprocess.Popen:
        self.specs[label] = (list(argv), dict(env))
        log = open(self.log_path(label), "ab")
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def replace(self, label: str, env: dict) -> subprocess.Popen:
        """Stop one process and start it again with `env` (same argv, same log); the others keep running."""
        index = next(i for i, (name, _, _) in enumerate(self.procs) if name == label)
        _, old, metrics_port = self.procs[index]
        _terminate(old)
        proc = self._spawn(label, self.specs[label][0], env)
        self.procs[index] = (label, proc, metrics_port)
        return proc

    def remove(self, label: str) -> None:
        """Stop one process and forget it."""
        for entry in [e for e in self.procs if e[0] == label]:
            self.procs.remove(entry)
            _terminate(entry[1])
        if label in self._counts and not any(name == label for name, _, _ in self.procs):
            del self._counts[label]  # started again under the same label

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


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
