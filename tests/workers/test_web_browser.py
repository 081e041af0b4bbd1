"""The real browser: Playwright driving the system Chromium, headless, against local servers. JavaScript pages,
link following, forms, the guard on navigations, redirects and sub-requests, a context per subtask, and a
screenshot asked about through the OpenAI-compatible client (the scripted LLM server)."""

import base64
import io

import pytest
from workforce.core.config import Settings
from workforce.workers.web.browser import BrowserError
from workforce.workers.netguard import BlockedAddress
from workforce.workers.tools import ToolFailed
from workforce.workers.web.tools import WebTools

from .web_fixtures.helpers import make_ctx, web_settings
from .web_fixtures.server import Reply

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    from tests.support.scripted_llm import ScriptedLLM

    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def browser_tools(site, llm):
    """One WebTools (one Chromium) for the module, as one worker replica has."""
    tools = WebTools(Settings(llm_base_url=llm.base_url, llm_models="vision=qwen-vl"), web_settings(site))
    yield tools
    await tools.close()


@pytest.fixture
def ctx(tmp_path, request):
    return make_ctx(tmp_path, attempt=f"task-b/{request.node.name[:40]}/1")


@pytest.fixture(autouse=True)
async def _end_subtask(browser_tools, ctx):
    yield
    await browser_tools.end_subtask(ctx)


def element(listing: str, label: str) -> int:
    """The number the page listing gives to the element whose label contains `label`."""
    for line in listing.splitlines():
        if line.startswith("[") and label in line:
            return int(line[1 : line.index("]")])
    raise AssertionError(f"no element {label!r} in:\n{listing}")


async def test_javascript_page_needs_the_browser(browser_tools, site, ctx):
    fetched = await browser_tools.fetch_page(ctx, site.url("/js.html"))
    assert "secret number" not in fetched  # plain fetching sees no rendered content
    page = await browser_tools.browser_open(ctx, site.url("/js.html"))
    assert "Title: Rendered dashboard" in page and "The secret number is 42." in page
    assert site.hits("/api/data"), "the page's own request went out through the proxy"


async def test_follow_a_link_and_click_a_button(browser_tools, site, ctx):
    page = await browser_tools.browser_open(ctx, site.url("/js.html"))
    revealed = await browser_tools.browser_click(ctx, element(page, "'Show more'"))
    assert "Revealed after a click: blue whale" in revealed
    article = await browser_tools.browser_click(ctx, element(revealed, "Read the cities article"))
    assert f"URL: {site.url('/article.html')}" in article and "37,400,068" in article
    back = await browser_tools.browser_back(ctx)
    assert f"URL: {site.url('/js.html')}" in back


async def test_fill_a_form_and_submit(browser_tools, site, ctx):
    page = await browser_tools.browser_open(ctx, site.url("/form.html"))
    await browser_tools.browser_fill(ctx, element(page, "select"), "2023")
    results = await browser_tools.browser_fill(ctx, element(page, "Search terms"), "bronze age", submit=True)
    assert "Title: Results" in results and "3 items found for “bronze age” published in 2023." in results
    assert site.hits("/results")[-1].query == {"q": "bronze age", "year": "2023"}


async def test_navigation_to_a_blocked_address_is_refused(browser_tools, other, ctx):
    with pytest.raises(BlockedAddress, match="loopback"):
        await browser_tools.browser_open(ctx, other.url("/secret"))
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        await browser_tools.browser_open(ctx, "http://169.254.169.254/latest/meta-data/")
    assert other.hits("/secret") == []


async def test_redirect_to_a_blocked_address_is_refused_in_the_browser(browser_tools, site, other, ctx):
    page = await browser_tools.browser_open(ctx, site.url("/redirect/internal"))
    assert "INTERNAL SECRET" not in page
    assert (
        f"Refused by the network guard: refused 127.0.0.1:{other.port}: 127.0.0.1 is a loopback address"
        in page
    )
    page = await browser_tools.browser_open(ctx, site.url("/redirect/hop-internal"))  # on a second hop
    assert "INTERNAL SECRET" not in page and "Refused by the network guard" in page
    page = await browser_tools.browser_open(ctx, site.url("/redirect/metadata"))
    assert "169.254.169.254 is a cloud metadata address" in page
    assert other.hits("/secret") == []


async def test_sub_requests_to_blocked_addresses_are_aborted(browser_tools, site, other, ctx):
    page = await browser_tools.browser_open(ctx, site.url("/leak.html"))
    assert (
        "A page that tries to reach an internal service." in page and "Refused by the network guard" in page
    )
    assert "INTERNAL SECRET" not in page
    assert [r.path for r in other.requests] == [], "an image, iframe or fetch reached the internal service"


async def test_a_context_per_subtask_closed_afterwards(browser_tools, site, tmp_path):
    one, two = make_ctx(tmp_path, "task-c/a/1"), make_ctx(tmp_path, "task-c/b/1")
    await browser_tools.browser_open(one, site.url("/form.html"))
    await browser_tools.browser_open(two, site.url("/article.html"))
    first, second = browser_tools.browser.sessions["task-c/a/1"], browser_tools.browser.sessions["task-c/b/1"]
    assert first.context is not second.context and first.proxy.url != second.proxy.url
    assert "Catalogue search" in await browser_tools.browser_read(one)  # each keeps its own page
    browser = await browser_tools.browser.browser()
    contexts = len(browser.contexts)
    await browser_tools.end_subtask(one)
    assert "task-c/a/1" not in browser_tools.browser.sessions and len(browser.contexts) == contexts - 1
    assert first.page.is_closed()
    await browser_tools.end_subtask(two)
    assert browser_tools.browser.sessions == {} or set(browser_tools.browser.sessions) <= {"task-b"}


async def test_a_document_is_sent_to_fetch_page(browser_tools, site, ctx):
    site.add("/paper.pdf", Reply(200, b"%PDF-1.4\n%%EOF\n", "application/pdf"))
    with pytest.raises(
        BrowserError, match="is a application/pdf document, not a web page: read it with fetch_page"
    ):
        await browser_tools.browser_open(ctx, site.url("/paper.pdf"))


async def test_browser_read_without_a_page_is_a_failed_call(browser_tools, ctx):
    with pytest.raises(ToolFailed, match="No page is open: use browser_open first."):
        await browser_tools.browser_read(ctx)


async def test_screenshot_asked_about_with_a_vision_model(browser_tools, llm, site, ctx):
    from PIL import Image

    llm.script(
        [{"role": "vision", "contains": "How many rows", "reply": {"content": "The table has 4 rows."}}]
    )
    await browser_tools.browser_open(ctx, site.url("/article.html"))
    text = await browser_tools.browser_screenshot(ctx, "How many rows does the table of cities have?")
    assert "Answer from the vision model: The table has 4 rows." in text
    assert ctx.produced[-1].media_type == "image/png" and ctx.produced[-1].name in text

    request = next(r for r in llm.requests() if r["role"] == "vision")
    assert request["model"] == "qwen-vl"
    parts = request["messages"][0]["content"]
    assert parts[0]["type"] == "text" and "How many rows" in parts[0]["text"]
    assert site.url("/article.html") in parts[0]["text"]
    url = parts[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.format == "PNG" and image.size == (1280, 900)


async def test_screenshot_without_a_vision_endpoint_is_a_clear_error(browser_tools, site, ctx, monkeypatch):
    monkeypatch.setattr(browser_tools, "settings", Settings(llm_base_url=""))
    await browser_tools.browser_open(ctx, site.url("/article.html"))
    tool = next(t for t in browser_tools.tools() if t.name == "browser_screenshot")
    outcome = await tool.run(ctx, {"question": "what is shown?"})
    assert not outcome.ok and "need a vision model" in outcome.text and "WF_LLM_BASE_URL" in outcome.text
