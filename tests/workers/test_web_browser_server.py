"""The browser in a process of its own, as the chart deploys it: `workforce-service browser` (Playwright's
browser server driving the system Chromium) and a real worker-web pointed at it by WF_WEB_BROWSER_WS_ENDPOINT.
A web subtask through the whole system reads a JavaScript page in that browser; Chromium runs under the browser
server, not under the worker; the network guard still refuses a redirect to an internal address (the browser's
traffic goes through the worker's guard proxy); the browser server holds no channel credentials."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.system import SERVICE_BIN, System
from workforce.local.nats_server import free_port

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = os.environ.get("WF_WEB_CHROMIUM_PATH", "/usr/bin/chromium")


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process below `pid`, from /proc."""
    parents: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
        names[int(entry.name)] = name
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append((child, names[child]))
            todo.append(child)
    return out


class BrowserServer:
    """`workforce-service browser`, its own OS process (the chart's browser Deployment runs the same command)."""

    def __init__(self, log_path: Path, **env):
        self.port = free_port()
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WF_")}
        self.env.update({"WF_BROWSER_HOST": "127.0.0.1", "WF_BROWSER_PORT": str(self.port),
                         "WF_BROWSER_CHROMIUM_PATH": CHROMIUM, "PYTHONUNBUFFERED": "1", **env})
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self.port}/workforce-browser"

    def start(self, timeout: float = 60) -> "BrowserServer":
        self.proc = subprocess.Popen([SERVICE_BIN, "browser"], env=self.env, stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        raise TimeoutError(self.log_path.read_text())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()   # the driver itself (exec'd): it closes Chromium on SIGTERM
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory):
    server = BrowserServer(tmp_path_factory.mktemp("browser") / "browser.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory, site, browser_server):
    s = System(tmp_path_factory.mktemp("web-remote-system"), workers={"web": 1},
               env={"WF_WEB_NET_ALLOWLIST": f"127.0.0.1:{site.port}", "WF_WEB_BROWSER_TIMEOUT_S": "20",
                    "WF_WEB_BROWSER_WS_ENDPOINT": browser_server.endpoint})
    s.start(timeout=120)
    yield s
    s.stop()


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def test_the_web_worker_drives_the_browser_server(system, browser_server, site, other):
    system.llm.script([
        {"role": "worker:web", "contains": "The secret number is 42",
         "reply": {"content": {"content": "The dashboard number is 42.", "failed": False}}},
        {"role": "worker:web", "contains": "Refused by the network guard",
         "reply": call("browser_open", url=site.url("/js.html"))},
        {"role": "worker:web", "contains": "Your subtask",
         "reply": call("browser_open", url=site.url("/redirect/internal"))},
    ])
    task_id = system.submit("What number does the dashboard show? @web")["task_id"]
    record = system.wait(task_id, timeout=180)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", system.logs()
    assert "42" in record["answer"]

    calls = [e["data"] for e in system.events(task_id) if e["type"] == "tool.call"]
    assert [(c["tool"], c["ok"]) for c in calls] == [("browser_open", True), ("browser_open", True)]
    # a redirect to an internal service, refused by the worker's guard proxy the remote browser goes through
    assert "127.0.0.1 is a loopback address" in calls[0]["result"] and "INTERNAL SECRET" not in calls[0]["result"]
    assert other.hits("/secret") == []
    # the JavaScript page rendered in the browser server's Chromium …
    assert "The secret number is 42." in calls[1]["result"]
    chromium = [pid for pid, name in descendants(browser_server.proc.pid) if "chrom" in name.lower()]
    assert chromium, descendants(browser_server.proc.pid)
    # … and none runs under the worker
    worker = system.services["worker-web"][0]
    assert not [n for _, n in descendants(worker.pid) if "chrom" in n.lower()], descendants(worker.pid)


def test_the_browser_server_holds_no_channel_credentials(browser_server):
    for pid in [browser_server.proc.pid] + [p for p, _ in descendants(browser_server.proc.pid)]:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        names = {item.split(b"=", 1)[0].decode() for item in environ if item}
        assert not [n for n in names if n.startswith(("WF_NATS", "WF_LLM", "WF_API"))], (pid, names)


async def test_an_unreachable_browser_server_is_a_clear_tool_error(tmp_path, site):
    from workforce.core.config import Settings
    from workforce.workers.web.browser import BrowserError
    from workforce.workers.web.tools import WebTools

    from .web_fixtures.helpers import make_ctx, web_settings

    tools = WebTools(Settings(), web_settings(site, browser_ws_endpoint=f"ws://127.0.0.1:{free_port()}/x"))
    try:
        with pytest.raises(BrowserError, match="cannot reach the browser server"):
            await tools.browser_open(make_ctx(tmp_path), site.url("/js.html"))
    finally:
        await tools.close()


def _user_namespace(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/user")


async def test_chromiums_own_sandbox_runs_under_the_charts_uid_where_user_namespaces_are_allowed(tmp_path):
    """WF_BROWSER_SANDBOX=true as the chart's browser pod runs it (uid 10001, every capability dropped,
    no_new_privs): Chromium's renderers run in user namespaces of their own. Where the node or the seccomp
    profile refuses unprivileged user namespaces this cannot work (docs/deploy.md), so it is skipped here."""
    from playwright.async_api import async_playwright

    from tests.sandbox.executor import can_switch_users

    able, why = can_switch_users()
    if not able:
        pytest.skip(why)
    probe = subprocess.run(["setpriv", "--reuid=10001", "--regid=10001", "--clear-groups", "--bounding-set=-all",
                            "--no-new-privs", "unshare", "--user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unprivileged user namespaces are refused here: {probe.stderr.decode().strip()}")
    home = Path(tempfile.mkdtemp(prefix="wf-browser-home-"))   # not under pytest's root-only tmp folder
    os.chown(home, 10001, 10001)
    server = BrowserServer(tmp_path / "browser.log", WF_BROWSER_SANDBOX="true", HOME=str(home), TMPDIR=str(home))
    server_argv = ["setpriv", "--reuid=10001", "--regid=10001", "--clear-groups", "--inh-caps=-all",
                   "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", SERVICE_BIN, "browser"]
    server.proc = subprocess.Popen(server_argv, env=server.env, stdout=open(server.log_path, "ab"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:
            assert server.proc.poll() is None, server.log_path.read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", server.port)) == 0:
                    break
            assert time.time() < deadline, server.log_path.read_text()
            time.sleep(0.2)
        async with async_playwright() as p:
            browser = await p.chromium.connect(server.endpoint, timeout=30_000)
            page = await (await browser.new_context()).new_page()
            await page.goto("data:text/html,<title>sandboxed</title><p>hello</p>")
            assert await page.title() == "sandboxed"
            processes = descendants(server.proc.pid)
            chromium = [pid for pid, name in processes if "chrom" in name.lower()]
            assert chromium, processes
            own = _user_namespace(server.proc.pid)
            assert {_user_namespace(pid) for pid in chromium} - {own}, "no Chromium process in a namespace of its own"
            assert "--no-sandbox" not in " ".join(
                Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ") for pid in chromium)
            await browser.close()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
