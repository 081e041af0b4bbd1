"""Entry point: `workforce-service browser`: Playwright's browser server (`playwright launch-server`) driving
the system Chromium, which the web worker drives over a websocket (WF_WEB_BROWSER_WS_ENDPOINT).

The process becomes Playwright's Node.js driver (exec), so it receives the container's SIGTERM itself and
closes Chromium. It holds no channel credentials and no secrets: pages reach the network only through the web
worker's guard proxy, which each browser context is pointed at (workers/web/guardproxy.py).
"""

import json
import logging
import os
import sys
import tempfile

from playwright._impl._driver import compute_driver_executable, get_driver_env

from .config import BrowserServerSettings

log = logging.getLogger(__name__)


def command(settings: BrowserServerSettings, config_dir: str | None = None) -> tuple[list[str], dict]:
    """The driver's argv (with its launch options written to a file of its own) and environment."""
    fd, path = tempfile.mkstemp(prefix="wf-browser-", suffix=".json", dir=config_dir)
    with os.fdopen(fd, "w") as f:
        json.dump(settings.launch_options(), f)
    node, cli = compute_driver_executable()
    return [node, cli, "launch-server", "--browser", "chromium", "--config", path], get_driver_env()


def main() -> None:
    logging.basicConfig(level=os.environ.get("WF_LOG_LEVEL", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = BrowserServerSettings()
    argv, env = command(settings)
    log.info("browser server on %s (Chromium %s, its sandbox %s)", settings.endpoint(), settings.chromium_path,
             "on" if settings.sandbox else "off")
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
