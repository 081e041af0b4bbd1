"""The web worker's tools: search, Wikipedia, web archive, fetch + extract, and a real browser."""

import asyncio
import base64
import json
from collections import OrderedDict

import httpx

from ...core.config import Settings
from ...core.llm.client import ChatClient
from ...core.llm.vision import VISION_ROLE, VisionNotConfigured, vision_settings
from ...core.websearch.providers import WebSearch
from ..tools import Tool, ToolContext, ToolFailed
from .archive import WebArchive, raw_snapshot_url
from .browser import BrowserPool
from .config import WebSettings
from .documents import kind_of, read_document
from .extract import extract_html, window
from .fetch import Fetcher
from ..netguard import NetGuard
from .wikipedia import Wikipedia

PAGE_CACHE = 64   # extracted pages kept for reading on with `start`


def _schema(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


URL = {"type": "string", "minLength": 1, "maxLength": 4096, "description": "an http(s) URL"}
START = {"type": "integer", "minimum": 0, "description": "character offset to read on from (default 0)"}
DATE = {"type": "string", "maxLength": 32, "description": "YYYY-MM-DD (or YYYY-MM, YYYY)"}
ELEMENT = {"type": "integer", "minimum": 1, "description": "the element's number in the page listing"}


class WebTools:
    def __init__(self, settings: Settings, web: WebSettings | None = None):
        self.settings = settings
        self.web = web or WebSettings()
        self.guard = NetGuard(self.web.net_allowlist)
        # Operator-configured APIs (search, Wikipedia, Wayback): trusted endpoints, not behind the guard.
        self.api = httpx.AsyncClient(timeout=self.web.api_timeout_s, follow_redirects=True,
                                     headers={"User-Agent": self.web.user_agent})
        self.search = WebSearch(self.web, self.api)
        self.wikipedia = Wikipedia(self.web.wikipedia_api_url, self.api)
        self.archive = WebArchive(self.web.wayback_available_url, self.web.wayback_cdx_url,
                                  self.web.wayback_web_url, self.api)
        self.fetcher = Fetcher(self.web, self.guard)
        self.browser = BrowserPool(self.web, self.guard)
        self._pages: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._vision = None

    async def start(self) -> None:
        if self.web.browser_prelaunch:
            await self.browser.browser()

    async def close(self) -> None:
        await self.browser.close()
        await self.fetcher.close()
        await self.api.aclose()
        if self._vision is not None:
            await self._vision.close()

    async def end_subtask(self, ctx: ToolContext) -> None:
        await self.browser.close_session(ctx.attempt_id)
        for key in [k for k in self._pages if k[0] == ctx.attempt_id]:
            del self._pages[key]

    # ---- search, Wikipedia, archive ----

    async def web_search(self, ctx: ToolContext, query: str, max_results: int = 5) -> str:
        provider, results = await self.search.search(query, min(max_results, self.web.search_max_results))
        if not results:
            return f"No results for {query!r} ({provider})."
        return f"Results for {query!r} ({provider}):\n" + "\n".join(r.render(i) for i, r in enumerate(results, 1))

    async def wikipedia_search(self, ctx: ToolContext, query: str, limit: int = 5) -> str:
        results = await self.wikipedia.search(query, limit)
        if not results:
            return f"No Wikipedia articles match {query!r}."
        return "\n".join(f"{i}. {r['title']} (last edited {r['last_edited']}): {r['snippet']}"
                         for i, r in enumerate(results, 1))

    async def wikipedia_page(self, ctx: ToolContext, title: str = "", revision_id: int = 0, as_of: str = "",
                             start: int = 0) -> str:
        key = (ctx.attempt_id, f"wiki:{title}|{revision_id}|{as_of}")
        if key not in self._pages:
            info, extracted = await self.wikipedia.page(title, revision_id, as_of)
            site = self.web.wikipedia_api_url.split("/w/api.php")[0]
            label = f"{site}/wiki/{info['title'].replace(' ', '_')} (revision {info['revision_id']})"
            self._remember(key, extracted.render(label))
        return window(self._pages[key], start, self.web.max_text_chars)

    async def wikipedia_revisions(self, ctx: ToolContext, title: str, since: str = "", until: str = "",
                                  limit: int = 10) -> str:
        history = await self.wikipedia.revisions(title, since, until, limit)
        return json.dumps(history, ensure_ascii=False, indent=1)

    async def archive_snapshot(self, ctx: ToolContext, url: str, date: str = "", read: bool = False,
                               start: int = 0) -> str:
        snapshot = await self.archive.closest(url, date)
        if snapshot is None:
            return f"The Wayback Machine has no snapshot of {url}."
        head = f"Closest snapshot of {url} to {date or 'now'}: {snapshot['url']} (captured {snapshot['timestamp']})"
        if not read:
            return head
        page = await self._read_url(ctx, raw_snapshot_url(snapshot["url"]), start)
        return f"{head}\n\n{page}"

    async def archive_history(self, ctx: ToolContext, url: str, since: str = "", until: str = "",
                              limit: int = 20) -> str:
        snapshots = await self.archive.history(url, since, until, limit)
        if not snapshots:
            return f"No snapshots of {url} in that period."
        return "\n".join(f"{s['timestamp']} {s['statuscode']} {s['mimetype']} {s['url']}" for s in snapshots)

    # ---- fetch ----

    async def fetch_page(self, ctx: ToolContext, url: str, start: int = 0) -> str:
        return await self._read_url(ctx, url, start)

    async def _read_url(self, ctx: ToolContext, url: str, start: int) -> str:
        key = (ctx.attempt_id, url)
        if key not in self._pages:
            fetched = await self.fetcher.get(url)
            kind = kind_of(fetched)
            if kind == "document":
                self._remember(key, await read_document(ctx, fetched))
            else:
                if kind == "html":
                    extracted = await asyncio.to_thread(extract_html, fetched.text(), fetched.final_url,
                                                        self.web.max_tables)
                    text = extracted.render(fetched.final_url, fetched.status)
                else:
                    text = f"URL: {fetched.final_url}\nHTTP status: {fetched.status}\n\n{fetched.text()}"
                if fetched.redirects:
                    text = f"(redirected from {fetched.url})\n{text}"
                self._remember(key, text)
        return window(self._pages[key], start, self.web.max_text_chars)

    def _remember(self, key, text: str) -> None:
        self._pages[key] = text
        while len(self._pages) > PAGE_CACHE:
            self._pages.popitem(last=False)

    # ---- browser ----

    async def browser_open(self, ctx: ToolContext, url: str, start: int = 0) -> str:
        session = await self.browser.session(ctx.attempt_id)
        snap = await session.open(url)
        return snap.render(window(snap.text, start, self.web.max_text_chars))

    async def browser_read(self, ctx: ToolContext, start: int = 0) -> str:
        session = await self.browser.session(ctx.attempt_id)
        if session.page is None:
            raise ToolFailed("No page is open: use browser_open first.")   # a failed call, not a page
        snap = await session.snapshot()
        return snap.render(window(snap.text, start, self.web.max_text_chars))

    async def browser_click(self, ctx: ToolContext, element: int) -> str:
        session = await self.browser.session(ctx.attempt_id)
        snap = await session.click(element)
        return snap.render(window(snap.text, 0, self.web.max_text_chars))

    async def browser_fill(self, ctx: ToolContext, element: int, text: str, submit: bool = False) -> str:
        session = await self.browser.session(ctx.attempt_id)
        snap = await session.fill(element, text, submit)
        return snap.render(window(snap.text, 0, self.web.max_text_chars))

    async def browser_back(self, ctx: ToolContext) -> str:
        session = await self.browser.session(ctx.attempt_id)
        snap = await session.back()
        return snap.render(window(snap.text, 0, self.web.max_text_chars))

    async def browser_screenshot(self, ctx: ToolContext, question: str, full_page: bool = False) -> str:
        session = await self.browser.session(ctx.attempt_id)
        if session.page is None:
            raise ToolFailed("No page is open: use browser_open first.")   # a failed call, not a page
        png = await session.screenshot(full_page)
        ref = await ctx.save_file(f"screenshot-{len(ctx.produced) + 1}.png", png, "image/png")
        answer = await self.ask_vision(ctx, question, png, session.page.url)
        return f"Screenshot of {session.page.url} saved as {ref.name}.\nAnswer from the vision model: {answer}"

    async def ask_vision(self, ctx: ToolContext, question: str, png: bytes, url: str) -> str:
        try:
            settings = vision_settings(self.settings)
        except VisionNotConfigured as exc:
            raise RuntimeError(str(exc)) from None
        if self._vision is None:
            self._vision = ChatClient(settings)
        prompt = (f"This is a screenshot of the web page {url}. Interactive elements carry red numbers. "
                  f"Answer the question about it precisely and briefly.\nQuestion: {question}")
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        result = await self._vision.chat(
            [{"role": "user", "content": [{"type": "text", "text": prompt},
                                          {"type": "image_url", "image_url": {"url": image}}]}],
            role=VISION_ROLE, task_id=ctx.task_id, max_tokens=self.web.vision_max_tokens)
        return result.content.strip() or "(the vision model gave no answer)"

    # ---- the tool list ----

    def tools(self) -> list[Tool]:
        web, browse = self.web.fetch_timeout_s + 30, self.web.browser_timeout_s * 3 + 10
        api = self.web.api_timeout_s * 3 + 10
        # web_search only with a provider to ask: offered without one, a model calls it first, every time
        search = [Tool("web_search", "Search the web; returns titles, URLs and snippets.", _schema({
            "query": {"type": "string", "minLength": 1, "maxLength": 500},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 20}}, ["query"]),
            self.web_search, api)] if self.search.providers else []
        return search + [
            Tool("wikipedia_search", "Search Wikipedia articles by keywords.", _schema({
                "query": {"type": "string", "minLength": 1, "maxLength": 300},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20}}, ["query"]),
                self.wikipedia_search, api),
            Tool("wikipedia_page", "Read a Wikipedia article (text and tables): the current version, a given "
                 "revision id, or the version as it was on a date (as_of).", _schema({
                     "title": {"type": "string", "maxLength": 300}, "revision_id": {"type": "integer", "minimum": 0},
                     "as_of": DATE, "start": START}, []),
                self.wikipedia_page, api + 30),
            Tool("wikipedia_revisions", "Revision history of a Wikipedia article: the number of edits between "
                 "two dates (inclusive), the oldest edit in that range and the latest ones.", _schema({
                     "title": {"type": "string", "minLength": 1, "maxLength": 300}, "since": DATE, "until": DATE,
                     "limit": {"type": "integer", "minimum": 0, "maximum": 100}}, ["title"]),
                self.wikipedia_revisions, api * 4),
            Tool("archive_snapshot", "The Wayback Machine snapshot of a URL closest to a date; read=true also "
                 "returns the archived page's text.", _schema({
                     "url": URL, "date": DATE, "read": {"type": "boolean"}, "start": START}, ["url"]),
                self.archive_snapshot, api + web),
            Tool("archive_history", "List the Wayback Machine snapshots of a URL between two dates.", _schema({
                "url": URL, "since": DATE, "until": DATE,
                "limit": {"type": "integer", "minimum": 1, "maximum": 200}}, ["url"]),
                self.archive_history, api),
            Tool("fetch_page", "Fetch a URL and return its main text and tables (documents such as PDF or "
                 "spreadsheets are read with the document tools). Long pages: read on with start.", _schema({
                     "url": URL, "start": START}, ["url"]),
                self.fetch_page, web),
            Tool("browser_open", "Open a URL in a real browser (runs JavaScript); returns the page text and its "
                 "numbered links, buttons and inputs.", _schema({"url": URL, "start": START}, ["url"]),
                self.browser_open, browse),
            Tool("browser_read", "The current browser page's text and elements again (after it changed).",
                 _schema({"start": START}, []), self.browser_read, browse),
            Tool("browser_click", "Click a numbered element (follows links, presses buttons).",
                 _schema({"element": ELEMENT}, ["element"]), self.browser_click, browse),
            Tool("browser_fill", "Type text into a numbered input (or choose an option of a select); "
                 "submit=true presses Enter afterwards.", _schema({
                     "element": ELEMENT, "text": {"type": "string", "maxLength": 2000},
                     "submit": {"type": "boolean"}}, ["element", "text"]),
                self.browser_fill, browse),
            Tool("browser_back", "Go back to the previous page.", _schema({}, []), self.browser_back, browse),
            Tool("browser_screenshot", "Take a screenshot of the current page (elements numbered) and ask a "
                 "vision model a question about what it shows.", _schema({
                     "question": {"type": "string", "minLength": 1, "maxLength": 2000},
                     "full_page": {"type": "boolean"}}, ["question"]),
                self.browser_screenshot, browse + self.settings.llm_timeout_s),
        ]
