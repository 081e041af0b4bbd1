"""worker-web configuration, from `WF_WEB_*` environment variables.

API keys come from the variable itself or from a file named by `<NAME>_FILE` (a mounted Kubernetes secret).
Every third-party endpoint is a setting, so a deployment (or a test) can point it at a mirror or a stand-in.
"""

from ...core.websearch.settings import SearchSettings


class WebSettings(SearchSettings):
    """Everything of worker-web; the search providers' settings (same WF_WEB_ prefix) come from SearchSettings."""

    # --- Wikipedia (MediaWiki Action API) and the Internet Archive's Wayback Machine ---
    wikipedia_api_url: str = "https://en.wikipedia.org/w/api.php"
    wayback_available_url: str = "https://archive.org/wayback/available"
    wayback_cdx_url: str = "https://web.archive.org/cdx/search/cdx"
    wayback_web_url: str = "https://web.archive.org/web"
    api_timeout_s: float = 20.0

    # --- fetching pages (model-chosen URLs, always through the network guard) ---
    net_allowlist: str = ""               # "127.0.0.1:8080, 10.1.0.0/16, intranet.local:443" (see workers/netguard.py)
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_timeout_s: float = 30.0         # the whole fetch, redirects included
    fetch_connect_timeout_s: float = 10.0
    max_redirects: int = 5
    max_text_chars: int = 8000            # one page of tool output; longer text is read with `start`
    max_tables: int = 20
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) WorkforceWeb/0.1 (+https://github.com/camel-ai/owl)"

    # --- browser (Playwright driving the system Chromium) ---
    chromium_path: str = "/usr/bin/chromium"
    browser_prelaunch: bool = False       # start Chromium with the replica instead of on first use
    browser_timeout_s: float = 30.0       # one navigation or action
    browser_max_bytes: int = 50 * 1024 * 1024  # per proxied connection of the browser
    browser_viewport: str = "1280x900"
    # A browser server to drive instead of launching Chromium here (the chart: its browser Deployment, reached at
    # ws://<service>:3000/workforce-browser); empty = launch the local Chromium (local mode).
    browser_ws_endpoint: str = ""
    # Where each browser context's guard proxy listens and how the browser reaches it: the defaults serve a
    # Chromium on this machine; with a remote browser the chart binds 0.0.0.0, advertises the pod's IP and keeps
    # the proxies in a fixed port range (its NetworkPolicies admit only the browser pods to it).
    proxy_bind_host: str = "127.0.0.1"
    proxy_advertise_host: str = ""       # empty = proxy_bind_host
    proxy_ports: str = ""                # "20000-20063"; empty = any free port

    # --- vision questions about screenshots; the model is WF_VISION_* (core/llm/vision.py) ---
    vision_max_tokens: int = 1024

    def proxy_port_range(self) -> range | None:
        if not self.proxy_ports.strip():
            return None
        first, _, last = self.proxy_ports.partition("-")
        return range(int(first), int(last or first) + 1)

    def viewport(self) -> dict:
        width, _, height = self.browser_viewport.partition("x")
        return {"width": int(width), "height": int(height)}
