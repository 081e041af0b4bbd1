"""A real browser for pages that need JavaScript: Playwright driving the system Chromium.

One Chromium per worker replica (started on first use), one browser context per subtask (closed when the subtask
ends, see agent.py). With WF_WEB_BROWSER_WS_ENDPOINT set (the chart) that Chromium is the browser server's
(`workforce-service browser`, a pod without channel access), connected to over a websocket; unset (local mode),
it is launched here. Every context sends its traffic through its own GuardProxy (so redirects are
checked too) and also routes each request through the guard, which refuses non-http(s) schemes and blocked
hosts before the browser tries them.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

from ...core.chromium import CHROMIUM_FLAGS
from .config import WebSettings
from .guardproxy import GuardProxy
from ..netguard import BlockedAddress, NetGuard

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", *CHROMIUM_FLAGS]
# Schemes a page may use without a network request.
LOCAL_SCHEMES = ("data:", "blob:", "about:")
MAX_ELEMENTS = 150
PAGE_TYPES = ("text/", "application/xhtml", "application/xml", "application/json", "image/svg")

MARK_ELEMENTS_JS = """(maxElements) => {
  const selector = 'a[href], button, input:not([type=hidden]), textarea, select, summary, [role=button], '
    + '[role=link], [role=tab], [role=menuitem], [onclick]';
  document.querySelectorAll('[data-wf-id]').forEach(e => e.removeAttribute('data-wf-id'));
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
    const id = out.length + 1;
    el.setAttribute('data-wf-id', String(id));
    const label = (el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('placeholder')
      || el.getAttribute('name') || el.getAttribute('title') || el.getAttribute('alt') || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 80);
    out.push({id, tag: el.tagName.toLowerCase(), type: el.getAttribute('type') || '', label,
              href: el.tagName === 'A' ? el.href : ''});
    if (out.length >= maxElements) break;
  }
  return out;
}"""

# Numbered labels drawn over the marked elements for a screenshot (the paper's numbered-element screenshots).
DRAW_MARKS_JS = """() => {
  for (const el of document.querySelectorAll('[data-wf-id]')) {
    const box = el.getBoundingClientRect();
    if (box.bottom < 0 || box.top > innerHeight) continue;
    const tag = document.createElement('div');
    tag.className = 'wf-mark';
    tag.textContent = el.getAttribute('data-wf-id');
    tag.style.cssText = `position:fixed;left:${Math.max(0, box.left)}px;top:${Math.max(0, box.top)}px;`
      + 'z-index:2147483647;background:#d00;color:#fff;font:bold 11px monospace;padding:0 2px;pointer-events:none';
    document.body.appendChild(tag);
  }
}"""
REMOVE_MARKS_JS = "() => document.querySelectorAll('.wf-mark').forEach(e => e.remove())"


class BrowserError(Exception):
    pass


@dataclass
class Snapshot:
    url: str
    title: str
    status: int | None
    text: str
    elements: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def render(self, text: str) -> str:
        lines = [f"URL: {self.url}", f"Title: {self.title}"]
        if self.status and self.status >= 400:
            lines.append(f"HTTP status: {self.status}")
        if self.refused:
            lines.append("Refused by the network guard: " + "; ".join(self.refused[:5]))
        lines += ["", text or "(the page shows no text)"]
        if self.elements:
            lines += ["", "Interactive elements (use their numbers with browser_click / browser_fill):"]
            for e in self.elements:
                kind = e["tag"] + (f"[{e['type']}]" if e["type"] else "")
                target = f" -> {e['href']}" if e["href"] else ""
                lines.append(f"[{e['id']}] {kind} {e['label']!r}{target}")
        return "\n".join(lines)


class BrowserSession:
    """One subtask's browser context, its guard proxy and its current page."""

    def __init__(self, context: BrowserContext, proxy: GuardProxy, guard: NetGuard, settings: WebSettings):
        self.context = context
        self.proxy = proxy
        self.guard = guard
        self.settings = settings
        self.page: Page | None = None
        self.status: int | None = None
        self._reported = 0
        context.on("page", self._on_page)

    def _on_page(self, page: Page) -> None:
        self.page = page      # a link that opens a new tab: follow it there
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        with contextlib.suppress(PlaywrightError):
            if response.request.is_navigation_request() and response.frame == response.frame.page.main_frame:
                self.status = response.status

    async def route(self, route: Route) -> None:
        url = route.request.url
        try:
            if not url.startswith(LOCAL_SCHEMES):
                await self.guard.check_url(url)
        except BlockedAddress as exc:
            self.proxy.refused.append(str(exc))
            action = route.abort("blockedbyclient")
        except OSError:
            action = route.abort("namenotresolved")
        else:
            action = route.continue_()
        with contextlib.suppress(PlaywrightError):   # the context may be closing
            await action

    def _ms(self) -> float:
        return self.settings.browser_timeout_s * 1000

    async def _page(self) -> Page:
        if self.page is None or self.page.is_closed():
            self.page = await self.context.new_page()
        return self.page

    async def open(self, url: str) -> Snapshot:
        await self.guard.check_url(url)   # a clear refusal before the browser is involved
        page = await self._page()
        try:
            response = await page.goto(url, wait_until="commit", timeout=self._ms())
            media = ((response and await response.header_value("content-type")) or "").split(";")[0].strip()
            if media and not media.startswith(PAGE_TYPES):
                raise BrowserError(f"{url} is a {media} document, not a web page: read it with fetch_page, "
                                   f"which hands documents to the document tools")
            await page.wait_for_load_state("domcontentloaded", timeout=self._ms())
        except PlaywrightError as exc:
            raise BrowserError(_explain(exc, url)) from None
        return await self.snapshot()

    async def settle(self) -> None:
        """Give scripts a moment to render (network idle, at most a few seconds)."""
        try:
            await self.page.wait_for_load_state("networkidle", timeout=min(5000, self._ms()))
        except PlaywrightError:
            pass

    async def snapshot(self) -> Snapshot:
        page = await self._page()
        for attempt in range(3):
            await self.settle()
            try:
                elements = await page.evaluate(MARK_ELEMENTS_JS, MAX_ELEMENTS)
                text = await page.evaluate("() => document.body ? document.body.innerText : ''")
                title = await page.title()
                break
            except PlaywrightError as exc:   # a navigation started by a click replaced the document meanwhile
                if "context was destroyed" not in str(exc) or attempt == 2:
                    raise BrowserError(_explain(exc, page.url)) from None
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_load_state("domcontentloaded", timeout=self._ms())
        refused = self.proxy.refused[self._reported:]
        self._reported = len(self.proxy.refused)
        return Snapshot(page.url, title, self.status, text.strip(), elements, refused)

    def _element(self, page: Page, element: int):
        return page.locator(f'[data-wf-id="{int(element)}"]')

    async def click(self, element: int) -> Snapshot:
        page = await self._page()
        target = self._element(page, element)
        if await target.count() == 0:
            raise BrowserError(f"no element [{element}] on the page; open or read the page again for the list")
        try:
            await target.first.click(timeout=self._ms())
            await page.wait_for_load_state("domcontentloaded", timeout=self._ms())
        except PlaywrightError as exc:
            raise BrowserError(_explain(exc, page.url)) from None
        return await self.snapshot()

    async def fill(self, element: int, text: str, submit: bool = False) -> Snapshot:
        page = await self._page()
        target = self._element(page, element)
        if await target.count() == 0:
            raise BrowserError(f"no element [{element}] on the page; open or read the page again for the list")
        try:
            if await target.first.evaluate("e => e.tagName") == "SELECT":
                await target.first.select_option(label=text, timeout=self._ms())
            else:
                await target.first.fill(text, timeout=self._ms())
            if submit:
                await target.first.press("Enter", timeout=self._ms())
                await page.wait_for_load_state("domcontentloaded", timeout=self._ms())
        except PlaywrightError as exc:
            raise BrowserError(_explain(exc, page.url)) from None
        return await self.snapshot()

    async def back(self) -> Snapshot:
        page = await self._page()
        response = await page.go_back(wait_until="domcontentloaded", timeout=self._ms())
        if response is None:
            raise BrowserError("there is no previous page")
        return await self.snapshot()

    async def screenshot(self, full_page: bool = False) -> bytes:
        page = await self._page()
        await self.settle()
        await page.evaluate(MARK_ELEMENTS_JS, MAX_ELEMENTS)
        await page.evaluate(DRAW_MARKS_JS)
        try:
            return await page.screenshot(full_page=full_page, type="png", timeout=self._ms())
        finally:
            await page.evaluate(REMOVE_MARKS_JS)

    async def close(self) -> None:
        try:
            await self.context.close()
        finally:
            await self.proxy.close()


class BrowserPool:
    """The replica's Chromium (launched lazily, relaunched if it died) and the live sessions by attempt id."""

    def __init__(self, settings: WebSettings, guard: NetGuard):
        self.settings = settings
        self.guard = guard
        self.sessions: dict[str, BrowserSession] = {}
        self._playwright = None
        self._browser: Browser | None = None
        self._lock = asyncio.Lock()

    async def browser(self) -> Browser:
        async with self._lock:
            if self._browser is None or not self._browser.is_connected():
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                if self.settings.browser_ws_endpoint:
                    return await self._connect()
                try:
                    self._browser = await self._playwright.chromium.launch(
                        executable_path=self.settings.chromium_path, args=CHROMIUM_ARGS, headless=True,
                        timeout=60_000)
                except PlaywrightError as exc:
                    raise BrowserError(f"cannot start Chromium at {self.settings.chromium_path}: "
                                       f"{str(exc).splitlines()[0]}") from None
            return self._browser

    async def _connect(self) -> Browser:
        endpoint = self.settings.browser_ws_endpoint
        try:
            self._browser = await self._playwright.chromium.connect(endpoint, timeout=30_000)
        except PlaywrightError as exc:
            raise BrowserError(f"cannot reach the browser server at {endpoint}: "
                               f"{str(exc).splitlines()[0]}") from None
        return self._browser

    async def session(self, key: str) -> BrowserSession:
        if key in self.sessions:
            return self.sessions[key]
        browser = await self.browser()
        s = self.settings
        proxy = await GuardProxy(self.guard, s.browser_max_bytes, s.fetch_connect_timeout_s,
                                 bind_host=s.proxy_bind_host, advertise_host=s.proxy_advertise_host,
                                 ports=s.proxy_port_range()).start()
        try:
            context = await browser.new_context(
                proxy={"server": proxy.url}, service_workers="block", accept_downloads=False,
                viewport=self.settings.viewport(), user_agent=None, java_script_enabled=True)
        except Exception:
            await proxy.close()
            raise
        context.set_default_timeout(self.settings.browser_timeout_s * 1000)
        session = BrowserSession(context, proxy, self.guard, self.settings)
        await context.route("**/*", session.route)
        self.sessions[key] = session
        return session

    async def close_session(self, key: str) -> None:
        session = self.sessions.pop(key, None)
        if session is not None:
            try:
                await session.close()
            except PlaywrightError as exc:   # the browser may already be gone
                log.debug("closing browser session %s: %s", key, exc)

    async def close(self) -> None:
        for key in list(self.sessions):
            await self.close_session(key)
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):
                await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None


def _explain(exc: PlaywrightError, url: str) -> str:
    message = str(exc).splitlines()[0]
    if "Download is starting" in message:
        return (f"{url} is a file download, not a page: read it with fetch_page, which hands documents to the "
                f"document tools")
    if "ERR_BLOCKED_BY_CLIENT" in message:
        return f"{url} was refused by the network guard"
    return f"browser error at {url}: {message}"
