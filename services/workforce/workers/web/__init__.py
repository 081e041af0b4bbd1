"""worker-web: search (pluggable providers), Wikipedia, the Wayback Machine, fetch + extract, a real browser.

`workforce-service worker-web` runs it; configuration is `WF_WEB_*` (see config.py).
"""

from ...core.config import Settings
from ..agent import ToolCallingAgent
from ..tools import WorkerSpec
from .config import WebSettings
from .tools import WebTools

DESCRIPTION = ("Finds information on the web: web search, Wikipedia articles and their revision history, "
               "archived pages (Wayback Machine), fetching pages with their text and tables, and a real browser "
               "for pages that need JavaScript, forms or clicks, with screenshots a vision model can read.")

SYSTEM_PROMPT = """How to work:
- Search first (web_search where you have it, wikipedia_search for encyclopedic facts), then read the most
  promising pages.
- Read pages with fetch_page; use the browser (browser_open, browser_click, browser_fill) only when a page
  needs JavaScript or interaction, and browser_screenshot when the answer is visual.
- For a page as it was at a date use wikipedia_page with as_of, or archive_snapshot with read=true.
- Documents (PDF, spreadsheets) fetched with fetch_page are read by the document tools.
- Put the facts you found and the URLs they came from in your result."""


class WebAgent(ToolCallingAgent):
    """The default tool-calling agent, plus closing the subtask's browser context whatever happens."""

    def __init__(self, llm, spec: WorkerSpec, settings: Settings, tools: WebTools):
        super().__init__(llm, spec, settings)
        self.web_tools = tools

    async def run(self, item, ctx):
        try:
            return await super().run(item, ctx)
        finally:
            await self.web_tools.end_subtask(ctx)


def spec(settings: Settings, web: WebSettings | None = None) -> WorkerSpec:
    tools = WebTools(settings, web)
    return WorkerSpec(
        worker_type="web",
        description=DESCRIPTION,
        tools=tools.tools(),
        system_prompt=SYSTEM_PROMPT,
        requires_tool=True,  # facts come from the web, never invented
        make_agent=lambda llm, worker_spec, s: WebAgent(llm, worker_spec, s, tools),
        start=tools.start,
        stop=tools.close,
    )


__all__ = ["WebAgent", "WebSettings", "WebTools", "spec"]
