"""pytest fixtures for the web worker's tests: test modules load them with
`pytest_plugins = ["tests.workers.web_fixtures.fixtures"]`."""

import pytest
from workforce.core.config import Settings
from workforce.workers.web.tools import WebTools

from .helpers import MB, web_settings
from .server import Reply, StandIn


def _results(request):
    q, year = request.query.get("q", ""), request.query.get("year", "")
    return Reply(
        200,
        f"<html><head><title>Results</title></head><body><h1>Results for {q}</h1>"
        f"<p>3 items found for “{q}” published in {year}.</p></body></html>",
    )


def _leak_page(other: StandIn):
    def page(request):
        return Reply(
            200,
            f"""<html><head><title>Leaky page</title></head><body><p>A page that tries to reach an
internal service.</p><img src="{other.url("/pixel")}"><iframe src="{other.url("/frame")}"></iframe>
<script>fetch('{other.url("/api")}').catch(() => {{}});</script></body></html>""",
        )

    return page


@pytest.fixture(scope="module")
def other():
    """Another local service on another 127.0.0.1 port: never allowlisted, must never be reached."""
    server = StandIn().start()
    for path in ("/secret", "/pixel", "/api", "/frame"):
        server.add(path, Reply(200, "INTERNAL SECRET 7c1f", "text/plain"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(other):
    server = StandIn().start()
    for name in ("article.html", "js.html", "form.html", "links.html"):
        server.add(f"/{name}", Reply.page(name))
    server.add("/api/data", Reply.json({"number": 42}))
    server.add("/results", _results)
    server.add("/redirect/1", Reply.redirect("/redirect/2"))
    server.add("/redirect/2", Reply.redirect("/article.html", 301))
    server.add("/redirect/loop", Reply.redirect("/redirect/loop"))
    server.add("/redirect/internal", Reply.redirect(other.url("/secret")))
    server.add("/redirect/hop-internal", Reply.redirect("/redirect/internal", 307))
    server.add("/redirect/metadata", Reply.redirect("http://169.254.169.254/latest/meta-data/iam/"))
    server.add("/redirect/localhost", Reply.redirect(f"http://localhost:{other.port}/secret"))
    server.add("/redirect/file", Reply.redirect("file:///etc/passwd"))
    server.add("/big", Reply(200, b"<html><body>" + b"x" * (2 * MB) + b"</body></html>"))
    server.add(
        "/big-stream",
        lambda r: Reply(200, content_type="text/plain", chunks=(b"y" * 65536 for _ in range(800))),
    )  # 50 MiB
    server.add("/slow", Reply(200, "<html><body>late</body></html>", delay_s=6))
    server.add("/plain.txt", Reply(200, "plain text file: line one\nline two", "text/plain; charset=utf-8"))
    server.add("/leak.html", _leak_page(other))
    yield server
    server.stop()


@pytest.fixture
async def tools(site):
    web_tools = WebTools(Settings(), web_settings(site))
    yield web_tools
    await web_tools.close()
