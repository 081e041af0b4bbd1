"""AutoAct's HotpotQA tool set: Retrieve[entity] and Lookup[keyword] on Wikipedia (MediaWiki Action API,
base URL configurable), and Search[query] through the web search providers (core/websearch, as worker-web).

Retrieve returns the first paragraph of the page, or similar titles when there is none; Lookup returns the
next paragraph of the last retrieved page (or search results) that contains the keyword, as
`(Result i/n) …`, and works only after a Retrieve or a Search.
"""

from dataclasses import dataclass, field

import httpx


class ToolUnavailable(RuntimeError):
    pass


@dataclass
class HotpotQASession:
    """One episode's tools; Lookup reads the pages that Retrieve / Search brought."""

    wikipedia_url: str
    timeout_s: float = 20.0
    search: object = None  # async (query) -> list[str], or None when no provider is wired
    paragraphs: list[str] = field(default_factory=list)
    keyword: str = ""
    index: int = 0

    USAGE = {
        "Retrieve": "Retrieve[entity], which retrieves the exact entity on Wikipedia and returns the first "
        "paragraph if it exists. If not, it will return some similar entities to retrieve. For example, "
        "Retrieve[Milhouse]",
        "Lookup": "Lookup[keyword], which returns the next sentence containing the keyword in the last "
        "passage successfully found by Retrieve or Search. For example, Lookup[river].",
        "Search": "Search[query], which searches the query on the Internet and returns the relevant "
        "information. For example, Search[popular dog breeds in the United States]",
    }

    def tools(self) -> list[dict]:
        names = ["Search", "Retrieve", "Lookup"] if self.search else ["Retrieve", "Lookup"]
        return [{"name": n, "description": self.USAGE[n]} for n in names]

    async def retrieve(self, entity: str) -> str:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.get(
                self.wikipedia_url,
                params={
                    "action": "query",
                    "prop": "extracts",
                    "explaintext": 1,
                    "redirects": 1,
                    "titles": entity,
                    "format": "json",
                    "formatversion": 2,
                },
            )
            response.raise_for_status()
            pages = response.json().get("query", {}).get("pages", [])
            page = pages[0] if pages else {}
            if page.get("missing") or not page.get("extract"):
                found = await client.get(
                    self.wikipedia_url,
                    params={
                        "action": "query",
                        "list": "search",
                        "srsearch": entity,
                        "srlimit": 5,
                        "format": "json",
                        "formatversion": 2,
                    },
                )
                found.raise_for_status()
                titles = [hit["title"] for hit in found.json().get("query", {}).get("search", [])]
                self.paragraphs = []
                return f"Could not find {entity}. Similar: {titles}."
        self._load([p.strip() for p in page["extract"].split("\n") if p.strip() and not p.startswith("==")])
        return self.paragraphs[0]

    async def web_search(self, query: str) -> str:
        if self.search is None:
            raise ToolUnavailable(
                "Search is not available: no web search provider is configured for worker-web"
            )
        results = await self.search(query)
        self._load(results)
        return " ".join(results[:4]) if results else "No results."

    def lookup(self, keyword: str) -> str:
        if not self.paragraphs:
            return "Lookup must follow a successful Retrieve or Search."
        if keyword.lower() != self.keyword:
            self.keyword, self.index = keyword.lower(), 0
        else:
            self.index += 1
        hits = [p for p in self.paragraphs if self.keyword in p.lower()]
        if not hits:
            return "No Results"
        if self.index >= len(hits):
            return "No More Results"
        return f"(Result {self.index + 1}/{len(hits)}) {hits[self.index]}"

    def _load(self, paragraphs: list[str]) -> None:
        self.paragraphs, self.keyword, self.index = paragraphs, "", 0


def web_search_function(timeout_s: float = 20.0):
    """The configured web search providers (core/websearch, WF_WEB_*) as `async (query) -> [text]`, or None
    when none is configured."""
    from ..websearch.providers import SearchError, WebSearch
    from ..websearch.settings import SearchSettings

    settings = SearchSettings()
    try:
        probe = WebSearch(settings, None)
    except SearchError:
        return None
    if not probe.providers:
        return None

    async def search(query: str) -> list[str]:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            _, results = await WebSearch(settings, client).search(query, 4)
        return [f"{r.title}: {r.snippet}" for r in results]

    return search
