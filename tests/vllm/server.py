"""vLLM's own OpenAI-compatible server (the CPU build in .venv-vllm) as a subprocess of the test session.

    server = VllmServer(python, models, log_path).start()   # waits on /health
    server.base_url            # http://127.0.0.1:<port>/v1
    server.stop()

The base model is served as BASE_NAME, the LoRA adapters under their own names (`--lora-modules`).
Structured outputs use xgrammar (explicit, so a silent fallback to another backend cannot hide a problem)
with `disable_any_whitespace`: without it a grammar allows unbounded whitespace between JSON tokens, and a
weak model can spend its whole token budget there. The engine core runs the model in its own process
(`--distributed-executor-backend uni` with VLLM_ENABLE_V1_MULTIPROCESSING=0 spares the extra worker process,
one fewer import of torch + vllm at start-up).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from workforce.local.nats_server import free_port

from .role_adapters import LORA_RANK

BASE_NAME = "tiny-base"
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}


class VllmServer:
    def __init__(self, python: Path, models: dict[str, Path], log_path: Path, max_model_len: int = 8192):
        self.python, self.models, self.log_path = Path(python), models, Path(log_path)
        self.max_model_len = max_model_len
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.startup_s = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def adapters(self) -> list[str]:
        return [name for name in self.models if name != "base"]

    def command(self) -> list[str]:
        return [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.models["base"]), "--served-model-name", BASE_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", str(self.max_model_len),
            "--enable-lora", "--max-lora-rank", str(LORA_RANK),
            "--lora-modules", *(f"{name}={self.models[name]}" for name in self.adapters),
            "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
            "--structured-outputs-config", json.dumps(STRUCTURED_OUTPUTS),
            "--distributed-executor-backend", "uni",
            "--enable-log-requests",  # one line per request, naming its LoRA adapter (see requests_for)
        ]

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WF_", "VLLM_"))}
        env.update({
            "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",  # everything is local; never wait on a hub
            "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self, timeout_s: float = 600) -> "VllmServer":
        started = time.perf_counter()
        with open(self.log_path, "ab") as log:
            # its own session: stop() signals the whole group (the API server and its engine core)
            self.proc = subprocess.Popen(self.command(), env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"vLLM exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    self.startup_s = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"vLLM did not answer /health within {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGTERM first; vLLM's graceful shutdown can stall, so the group gets SIGKILL after a grace period
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def requests_for(self, model: str) -> int:
        """How many requests the server has logged for `model` (an adapter name, or BASE_NAME)."""
        lines = [line for line in self.log_path.read_text(errors="replace").splitlines()
                 if "Received request" in line]
        if model == BASE_NAME:
            return sum("lora_request: None" in line for line in lines)
        return sum(f"lora_name='{model}'" in line for line in lines)
