"""Browser server configuration, from `WF_BROWSER_*` environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from ..core.chromium import CHROMIUM_FLAGS


class BrowserServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_BROWSER_", extra="ignore")

    host: str = "127.0.0.1"               # the chart: 0.0.0.0 (its NetworkPolicy admits only the web worker)
    port: int = 3000
    ws_path: str = "/workforce-browser"   # the web worker connects to ws://<host>:<port><ws_path>
    chromium_path: str = "/usr/bin/chromium"
    # Chromium's own sandbox (user namespaces + seccomp-bpf). It needs a seccomp profile that lets an unprivileged
    # process create a user namespace and a node that allows them (docs/deploy.md); off, Chromium runs with
    # --no-sandbox and the browser's pod (no channel, no secrets, egress only to the web worker's guard proxy)
    # is the boundary.
    sandbox: bool = False
    extra_args: str = ""                  # more Chromium switches, space-separated

    def launch_options(self) -> dict:
        """Playwright's launchServer options (`playwright launch-server --config`)."""
        path = self.ws_path if self.ws_path.startswith("/") else "/" + self.ws_path
        return {"headless": True, "host": self.host, "port": self.port, "wsPath": path,
                "executablePath": self.chromium_path, "chromiumSandbox": self.sandbox,
                "args": [*CHROMIUM_FLAGS, *self.extra_args.split()], "handleSIGTERM": True, "handleSIGINT": True}

    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"ws://{host}:{self.port}{self.launch_options()['wsPath']}"
