"""The α-UMi role services (`workforce-service role-<role>`) as OS processes against the vLLM server.

Each role maps to its own LoRA adapter on the shared base model through WF_LLM_MODELS, as in production.
"""

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.system import Service
from workforce.local.nats_server import free_port

from .server import BASE_NAME

ROLE_SERVICE = "workforce.v1.RoleModel"
ROLE_MODELS = {"planner": "planner", "caller": "caller", "summarizer": "summarizer"}
MAX_ATTEMPTS = 2
MAX_TOKENS = 48


def role_env(base_env: dict, base_url: str, role: str) -> dict:
    env = {k: v for k, v in base_env.items() if not k.startswith("WF_")}
    env.update({
        "WF_LLM_BASE_URL": base_url, "WF_LLM_MODEL": BASE_NAME,
        "WF_LLM_MODELS": ",".join(f"{role}={model}" for role, model in ROLE_MODELS.items()),
        "WF_LLM_MAX_RETRIES": "0", "WF_LLM_TIMEOUT_S": "300",
        "WF_ROLE_MAX_ATTEMPTS": str(MAX_ATTEMPTS), "WF_ROLE_MAX_TOKENS": str(MAX_TOKENS),
        "WF_ROLE_PROMPT_FAMILY": "alpha-umi",
        "WF_GRPC_PORT": str(free_port()), "WF_METRICS_PORT": "0", "WF_BIND_HOST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def wait_serving(service: Service, timeout_s: float = 120) -> str:
    """The service's address once its gRPC health check says SERVING."""
    address = f"127.0.0.1:{service.env['WF_GRPC_PORT']}"
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.log_path.read_text()[-3000:]}")
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=ROLE_SERVICE), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return address
            except grpc.RpcError:
                pass
            time.sleep(0.3)
    log = service.log_path.read_text()[-3000:]
    raise RuntimeError(f"{service.name} was not SERVING within {timeout_s}s:\n{log}")
