"""Wikipedia (MediaWiki Action API) and the Wayback Machine (availability + CDX) against local stand-ins."""

import json

import pytest
from workforce.core.config import Settings
from workforce.workers.web.config import WebSettings
from workforce.workers.web.tools import WebTools
from workforce.workers.web.wikipedia import WikipediaError, mw_timestamp

from .web_fixtures.helpers import make_ctx
from .web_fixtures.server import StandIn
from .web_fixtures.standins import MediaWiki, Wayback


@pytest.fixture(scope="module")
def apis():
    server = StandIn().start()
    server.add("/w/api.php", MediaWiki())
    for path, handler in Wayback(server).routes().items():
        server.add(path, handler)
    yield server
    server.stop()


@pytest.fixture
async def tools(apis):
    web = WebSettings(
        wikipedia_api_url=apis.url("/w/api.php"),
        wayback_available_url=apis.url("/wayback/available"),
        wayback_cdx_url=apis.url("/cdx/search/cdx"),
        wayback_web_url=apis.url("/web"),
        net_allowlist=f"127.0.0.1:{apis.port}",
    )
    t = WebTools(Settings(), web)
    yield t
    await t.close()


def test_dates():
    assert mw_timestamp("2023-06-30") == "2023-06-30T00:00:00Z"
    assert mw_timestamp("2023-06", end_of_day=True) == "2023-06-30T23:59:59Z"
    assert mw_timestamp("2024-02", end_of_day=True) == "2024-02-29T23:59:59Z"
    assert mw_timestamp("2022", end_of_day=True) == "2022-12-31T23:59:59Z"
    assert mw_timestamp("2023-06-30T10:00:00+02:00") == "2023-06-30T08:00:00Z"
    with pytest.raises(WikipediaError, match="not a date"):
        mw_timestamp("last summer")


async def test_search(tools, tmp_path, apis):
    text = await tools.wikipedia_search(make_ctx(tmp_path), "Mercedes Sosa", limit=2)
    assert text.splitlines()[0].startswith(
        "1. Mercedes Sosa (last edited 2024-05-01T10:00:00Z): Mercedes Sosa was"
    )
    assert "searchmatch" not in text
    request = apis.hits("/w/api.php")[-1]
    assert (
        request.query.items()
        >= {"action": "query", "list": "search", "srsearch": "Mercedes Sosa", "format": "json"}.items()
    )
    assert (
        request.headers["user-agent"].startswith("Mozilla/5.0")
        and "WorkforceWeb" in request.headers["user-agent"]
    )
    assert (
        await tools.wikipedia_search(make_ctx(tmp_path), "zzz nothing")
        == "No Wikipedia articles match 'zzz nothing'."
    )


async def test_current_page_with_its_table(tools, tmp_path):
    text = await tools.wikipedia_page(make_ctx(tmp_path), title="Mercedes Sosa")
    assert "(revision 2233)" in text and "lists 22 studio albums" in text
    assert "| Year | Album |\n|---|---|\n| 1962 | La Voz De La Zafra |\n| 2009 | Cantora 1 |" in text


async def test_page_as_it_was_on_a_date(tools, tmp_path, apis):
    # edits every 4 days from 2004-03-01: the last one on or before 2005-01-01 is edit 76 (2004-12-30)
    text = await tools.wikipedia_page(make_ctx(tmp_path), title="Mercedes Sosa", as_of="2005-01-01")
    assert "(revision 1076)" in text and "lists 10 studio albums" in text
    parse = apis.hits("/w/api.php")[-1].query
    assert parse["action"] == "parse" and parse["oldid"] == "1076"


async def test_a_given_revision_and_errors(tools, tmp_path):
    assert "lists 15 studio albums" in await tools.wikipedia_page(make_ctx(tmp_path), revision_id=1500)
    tool = next(t for t in tools.tools() if t.name == "wikipedia_page")
    missing = await tool.run(make_ctx(tmp_path), {"title": "No such page"})
    assert not missing.ok and "missingtitle" in missing.text
    bad = await tool.run(make_ctx(tmp_path), {"revision_id": 99})
    assert not bad.ok and "nosuchrevid" in bad.text


async def test_revision_history_counts_across_batches(tools, tmp_path, apis):
    before = len(apis.hits("/w/api.php"))
    history = json.loads(await tools.wikipedia_revisions(make_ctx(tmp_path), "Mercedes Sosa", limit=3))
    assert history["edits"] == 1234 and history["count_complete"] is True
    assert len(apis.hits("/w/api.php")) - before == 3  # 500 + 500 + 234, following "continue"
    assert [r["revid"] for r in history["latest"]] == [2233, 2232, 2231]
    assert history["oldest_in_range"]["revid"] == 1000

    # edits in 2005: every 4 days, from 2005-01-03 (edit 77) to 2005-12-29 (edit 167)
    in_2005 = json.loads(
        await tools.wikipedia_revisions(
            make_ctx(tmp_path), "Mercedes Sosa", since="2005-01-01", until="2005-12-31", limit=1
        )
    )
    assert in_2005["edits"] == 91 and in_2005["oldest_in_range"]["timestamp"].startswith("2005-01-03")
    assert in_2005["latest"][0]["timestamp"].startswith("2005-12-29")


async def test_archive_closest_snapshot_and_its_text(tools, tmp_path):
    ctx = make_ctx(tmp_path)
    text = await tools.archive_snapshot(ctx, "http://example.com/", date="2020-04-01")
    assert "captured 20200315083000" in text
    read = await tools.archive_snapshot(ctx, "http://example.com/", date="2019-01", read=True)
    assert "captured 20190105120000" in read and "capture-20190105120000" in read
    assert "no snapshot" in await tools.archive_snapshot(ctx, "http://never-archived.example/")


async def test_archive_history(tools, tmp_path, apis):
    text = await tools.archive_history(make_ctx(tmp_path), "http://example.com/", since="2020", until="2023")
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == ["20200315083000", "20221201000000"]
    assert lines[0].endswith(f"{apis.url('/web')}/20200315083000/http://example.com/")
    cdx = apis.hits("/cdx/search/cdx")[-1].query
    assert cdx["output"] == "json" and cdx["from"] == "2020" and cdx["to"] == "2023"
    tool = next(t for t in tools.tools() if t.name == "archive_history")
    bad = await tool.run(make_ctx(tmp_path), {"url": "http://example.com/", "since": "someday"})
    assert not bad.ok and "not a date" in bad.text
