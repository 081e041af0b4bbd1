"""Fetching pages through the guard: extraction of text and tables, redirects checked on every hop, size and time
limits, documents handed to the document tools. Real HTTP servers on 127.0.0.1; only the site's port is allowed."""

import sys

import pytest
from workforce.workers.web.fetch import Fetcher, FetchError
from workforce.workers.netguard import BlockedAddress, NetGuard

from .web_fixtures.helpers import MB, make_ctx, pdf_bytes, web_settings
from .web_fixtures.server import Reply

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]


@pytest.fixture
async def fetcher(site):
    settings = web_settings(site)
    f = Fetcher(settings, NetGuard(settings.net_allowlist))
    yield f
    await f.close()


async def test_article_text_and_table(tools, site, tmp_path):
    text = await tools.fetch_page(make_ctx(tmp_path), site.url("/article.html"))
    assert "Title: Largest cities of the world" in text
    assert "the quick brown fox measures cities" in text
    assert "Cookie settings" not in text and "About us" not in text  # boilerplate is dropped
    table = text.split("Table 1:", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows[:3] == [
        "| Rank | City | Country | Population |",
        "|---|---|---|---|",
        "| 1 | Tokyo | Japan | 37,400,068 |",
    ]  # cells as written
    assert rows[5] == "| 4 | São Paulo | Brazil | 21,650,000 |" and len(rows) == 6


async def test_redirects_are_followed_hop_by_hop(fetcher, site):
    fetched = await fetcher.get(site.url("/redirect/1"))
    assert fetched.status == 200 and fetched.final_url == site.url("/article.html")
    assert fetched.redirects == [site.url("/redirect/1"), site.url("/redirect/2")]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/redirect/internal", "loopback"),
        ("/redirect/hop-internal", "loopback"),  # refused on the second hop too
        ("/redirect/localhost", "localhost"),  # a name resolving to loopback
        ("/redirect/metadata", "169.254.169.254 is a cloud metadata address"),
        ("/redirect/file", "only http and https"),
    ],
)
async def test_redirect_to_a_blocked_address_is_refused(fetcher, site, other, path, message):
    before = len(other.requests)
    with pytest.raises(BlockedAddress, match=message):
        await fetcher.get(site.url(path))
    assert len(other.requests) == before, "the internal service was contacted"


async def test_the_refusal_reaches_the_model_as_a_failed_tool_call(tools, site, other, tmp_path):
    tool = next(t for t in tools.tools() if t.name == "fetch_page")
    outcome = await tool.run(make_ctx(tmp_path), {"url": site.url("/redirect/internal")})
    assert not outcome.ok and f"127.0.0.1:{other.port}" in outcome.text and "loopback" in outcome.text
    assert "INTERNAL SECRET" not in outcome.text


async def test_direct_request_to_another_local_port_is_refused(fetcher, other):
    with pytest.raises(BlockedAddress, match=f"127.0.0.1:{other.port}: 127.0.0.1 is a loopback address"):
        await fetcher.get(other.url("/secret"))
    assert other.hits("/secret") == []


async def test_redirect_loop_stops(fetcher, site):
    with pytest.raises(FetchError, match="too many redirects"):
        await fetcher.get(site.url("/redirect/loop"))


async def test_response_over_the_size_limit(fetcher, site):
    with pytest.raises(FetchError, match="over the limit of 1048576 bytes"):
        await fetcher.get(site.url("/big"))  # refused on Content-Length
    with pytest.raises(FetchError, match="more than the limit of 1048576 bytes"):
        await fetcher.get(site.url("/big-stream"))  # no Content-Length: counted while reading
    assert site.bytes_sent["/big-stream"] < 20 * MB  # the reader stopped, it did not drain 50 MiB


async def test_slow_response_times_out(fetcher, site):
    with pytest.raises(FetchError, match="longer than 4 s"):
        await fetcher.get(site.url("/slow"))


async def test_plain_text_and_paging(tools, site, tmp_path):
    ctx = make_ctx(tmp_path)
    text = await tools.fetch_page(ctx, site.url("/plain.txt"))
    assert "plain text file: line one\nline two" in text
    tools.web.max_text_chars = 200
    first = await tools.fetch_page(ctx, site.url("/article.html"))
    assert "call again with start=200" in first
    second = await tools.fetch_page(ctx, site.url("/article.html"), start=200)
    assert second.startswith("(characters 200-400 of") and second[second.index("\n") + 1 :][:50] not in first


async def test_pdf_goes_to_the_document_tools(tools, site, tmp_path):
    pytest.importorskip("fpdf", reason="the document extra (fpdf2) makes the test PDF")
    site.add("/report.pdf", Reply(200, pdf_bytes(), "application/pdf"))
    ctx = make_ctx(tmp_path)
    text = await tools.fetch_page(ctx, site.url("/report.pdf"))
    assert "read with the document tools" in text and "1,234,567 visitors" in text
    assert [f.name for f in ctx.produced] == ["report.pdf"] and ctx.produced[
        0
    ].media_type == "application/pdf"


async def test_pdf_without_the_document_package_says_where_to_send_it(tools, site, tmp_path, monkeypatch):
    site.add(
        "/octet",
        Reply(
            200,
            b"%PDF-1.4\n% a pdf served as octet-stream\n",
            "application/octet-stream",
            headers={"Content-Disposition": 'attachment; filename="minutes.pdf"'},
        ),
    )
    monkeypatch.setitem(sys.modules, "workforce.workers.document.extract", None)  # as in an image without it
    ctx = make_ctx(tmp_path)
    text = await tools.fetch_page(ctx, site.url("/octet"))
    assert "is a document" in text and "pass the file to worker-document" in text and "'minutes.pdf'" in text
    assert ctx.produced[0].name == "minutes.pdf"


async def test_the_pages_own_charset_is_used_when_the_server_names_none(tools, site, tmp_path):
    body = ("<html><head><meta charset='windows-1252'><title>Café</title></head><body><article><p>"
            + "Le café naïve est servi à Zürich. " * 20 + "</p></article></body></html>").encode("cp1252")
    site.add("/latin1.html", Reply(200, body, "text/html"))
    text = await tools.fetch_page(make_ctx(tmp_path), site.url("/latin1.html"))
    assert "Title: Café" in text and "Le café naïve est servi à Zürich." in text
