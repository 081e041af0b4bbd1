"""Wikipedia through the MediaWiki Action API (WF_WEB_WIKIPEDIA_API_URL): search, a page (current, an old
revision, or as it stood on a date) with its tables, and the revision history of a page."""

import calendar
from datetime import UTC, datetime

import httpx

from .extract import Extracted, extract_html

MAX_HISTORY_BATCHES = 40   # 500 revisions each: counts up to 20,000 edits before saying "at least"


class WikipediaError(Exception):
    pass


def mw_timestamp(value: str, end_of_day: bool = False) -> str:
    """'2023-06-30' / '2023-06' / '2023' / ISO 8601 → MediaWiki's '2023-06-30T00:00:00Z' (UTC)."""
    value = value.strip()
    for fmt, kind in (("%Y-%m-%d", "day"), ("%Y-%m", "month"), ("%Y", "year")):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if end_of_day:
            if kind == "year":
                parsed = parsed.replace(month=12, day=31)
            elif kind == "month":
                parsed = parsed.replace(day=calendar.monthrange(parsed.year, parsed.month)[1])
            parsed = parsed.replace(hour=23, minute=59, second=59)
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WikipediaError(f"not a date: {value!r} (use YYYY-MM-DD)") from None
    if parsed.tzinfo:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


class Wikipedia:
    def __init__(self, api_url: str, client: httpx.AsyncClient):
        self.api_url = api_url
        self.client = client

    async def _get(self, **params) -> dict:
        params = {"format": "json", "formatversion": "2", **params}
        response = await self.client.get(self.api_url, params=params)
        if response.status_code != 200:
            raise WikipediaError(f"Wikipedia API: HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if "error" in body:
            error = body["error"]
            raise WikipediaError(f"Wikipedia API: {error.get('code', '')}: {error.get('info', error)}")
        return body

    async def search(self, query: str, limit: int = 5) -> list[dict]:
        body = await self._get(action="query", list="search", srsearch=query, srlimit=limit,
                               srprop="snippet|timestamp|wordcount")
        return [{"title": r["title"], "snippet": _strip_tags(r.get("snippet", "")),
                 "last_edited": r.get("timestamp", ""), "words": r.get("wordcount")}
                for r in body.get("query", {}).get("search", [])]

    async def revision_at(self, title: str, date: str) -> dict:
        """The revision of a page that was current at the end of `date`."""
        body = await self._get(action="query", prop="revisions", titles=title, redirects="1", rvlimit="1",
                               rvdir="older", rvstart=mw_timestamp(date, end_of_day=True),
                               rvprop="ids|timestamp|user|comment")
        page = _first_page(body, title)
        revisions = page.get("revisions") or []
        if not revisions:
            raise WikipediaError(f"{page['title']!r} has no revision on or before {date}")
        return revisions[0]

    async def page(self, title: str = "", revision_id: int = 0, as_of: str = "") -> tuple[dict, Extracted]:
        """(info, extracted text and tables) of a page: current, revision `revision_id`, or as of a date."""
        if as_of and not revision_id:
            revision_id = (await self.revision_at(title, as_of))["revid"]
        params = {"action": "parse", "prop": "text|revid|displaytitle", "disableeditsection": "1",
                  "disabletoc": "1"}
        if revision_id:
            params["oldid"] = str(revision_id)
        elif title:
            params.update(page=title, redirects="1")
        else:
            raise WikipediaError("give a title or a revision id")
        parsed = (await self._get(**params))["parse"]
        html = parsed["text"] if isinstance(parsed["text"], str) else parsed["text"].get("*", "")
        extracted = extract_html(f"<html><body><article>{html}</article></body></html>")
        extracted.title = parsed.get("title", title)
        info = {"title": parsed.get("title", title), "revision_id": parsed.get("revid", revision_id)}
        return info, extracted

    async def revisions(self, title: str, since: str = "", until: str = "", limit: int = 20) -> dict:
        """Edits of a page between two dates (inclusive): their count, the first and the latest `limit`."""
        params = {"action": "query", "prop": "revisions", "titles": title, "redirects": "1", "rvlimit": "max",
                  "rvprop": "ids|timestamp|user|comment|size", "rvdir": "older"}
        if until:
            params["rvstart"] = mw_timestamp(until, end_of_day=True)
        if since:
            params["rvend"] = mw_timestamp(since)
        latest, count, oldest, resolved, complete = [], 0, None, title, False
        for _ in range(MAX_HISTORY_BATCHES):
            body = await self._get(**params)
            page = _first_page(body, title)
            resolved = page["title"]
            batch = page.get("revisions") or []
            count += len(batch)
            if batch:
                latest.extend(batch[: max(0, limit - len(latest))])
                oldest = batch[-1]
            if "continue" not in body:
                complete = True
                break
            params.update(body["continue"])
        return {"title": resolved, "since": since or "creation", "until": until or "now",
                "edits": count, "count_complete": complete, "oldest_in_range": oldest, "latest": latest}


def _first_page(body: dict, title: str) -> dict:
    pages = body.get("query", {}).get("pages") or []
    if isinstance(pages, dict):          # formatversion=1 servers
        pages = list(pages.values())
    if not pages or pages[0].get("missing") or pages[0].get("invalid"):
        raise WikipediaError(f"no Wikipedia page titled {title!r}")
    return pages[0]


def _strip_tags(text: str) -> str:
    from lxml import html as lxml_html

    return lxml_html.fromstring(f"<p>{text}</p>").text_content() if text else ""
