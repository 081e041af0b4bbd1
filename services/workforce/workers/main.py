"""Entry point of a worker replica: `workforce-service worker-<type>`."""

from functools import partial

from ..core.runtime import run_service
from .runtime import serve


def main(worker_type: str) -> None:
    run_service(f"worker-{worker_type}", partial(_serve, worker_type=worker_type))


async def _serve(settings, stop, worker_type: str) -> None:
    settings.worker_type = worker_type
    await serve(settings, stop, worker_type)
