"""Process plumbing shared by every service's entry point: logging, metrics, signals, graceful stop."""

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from .config import Settings, get_settings
from .ids import instance_id
from .llm.client import close_clients
from .logging import setup_logging
from .metrics import serve_metrics
from . import tracing

log = logging.getLogger(__name__)


def run_service(name: str, main: Callable[[Settings, asyncio.Event], Awaitable[None]],
                event_loop: str = "") -> None:
    """Run `main(settings, stop_event)` until SIGTERM/SIGINT sets the stop event (on `event_loop` when given,
    else WF_EVENT_LOOP)."""
    settings = get_settings()
    settings.service_name = name
    if not settings.instance_id:
        settings.instance_id = instance_id(name)
    setup_logging(settings.log_level, settings.log_format, name)
    serve_metrics(settings.metrics_port, settings.bind_host)
    tracing.setup(settings)

    async def _runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("%s starting as %s", name, settings.instance_id)
        try:
            await main(settings, stop)
        finally:
            await close_clients()
        log.info("%s stopped", name)

    try:
        _event_loop_runner(event_loop or settings.event_loop)(_runner())
    finally:
        tracing.shutdown()  # export the spans still buffered


def _event_loop_runner(kind: str):
    """uvloop where installed (a faster event loop: less CPU per message), else asyncio's own."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed; using asyncio's event loop")
        else:
            return uvloop.run
    return asyncio.run
