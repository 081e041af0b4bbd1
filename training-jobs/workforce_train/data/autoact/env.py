"""The AutoAct tool environment: Retrieve[entity] (MediaWiki API), BingSearch[query] (Bing Web Search
API), Lookup[keyword] (the next sentence with the keyword in the last passage), Image2Text[image] (the
question's own caption / OCR, as ScienceQA ships them). Base URLs are configurable so a deployment can
point at a mirror; network errors become observations, never crashes."""

import re

import httpx

OBSERVATION_CHARS = 1500


class Environment:
    def __init__(
        self,
        tools: list[dict],
        *,
        wiki_url: str = "https://en.wikipedia.org",
        bing_url: str = "https://api.bing.microsoft.com",
        bing_key: str = "",
        client: httpx.AsyncClient | None = None,
        context: dict | None = None,
    ):
        self.names = {t["name"] for t in tools}
        self.wiki_url, self.bing_url, self.bing_key = wiki_url.rstrip("/"), bing_url.rstrip("/"), bing_key
        self.client = client or httpx.AsyncClient(timeout=20)
        self.context = context or {}
        self.passage: list[str] = []
        self.lookup: tuple[str, int] = ("", 0)

    def _keep(self, text: str) -> str:
        self.passage = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        self.lookup = ("", 0)
        return text[:OBSERVATION_CHARS]

    async def act(self, tool: str, argument: str) -> str:
        if tool not in self.names:
            return f"Invalid action: {tool} is not one of {', '.join(sorted(self.names))}."
        try:
            if tool == "Retrieve":
                return await self._retrieve(argument)
            if tool == "BingSearch":
                return await self._search(argument)
            if tool == "Lookup":
                return self._lookup(argument)
            if tool == "Image2Text":
                caption, ocr = (
                    self.context.get("caption", ""),
                    self.context.get("ocr") or self.context.get("orc", ""),
                )
                return f"Caption: {caption}\nText in the image: {ocr}" if caption or ocr else "No image."
        except httpx.HTTPError as exc:
            return f"{tool} failed: {exc!r}"
        return f"{tool} has no implementation in this environment."

    async def _retrieve(self, entity: str) -> str:
        api = f"{self.wiki_url}/w/api.php"
        r = await self.client.get(
            api,
            params={
                "action": "query",
                "prop": "extracts",
                "explaintext": 1,
                "redirects": 1,
                "format": "json",
                "titles": entity,
            },
        )
        r.raise_for_status()
        pages = (r.json().get("query") or {}).get("pages") or {}
        for page in pages.values():
            if "missing" not in page and page.get("extract"):
                return self._keep(page["extract"])
        r = await self.client.get(
            api, params={"action": "query", "list": "search", "srsearch": entity, "format": "json"}
        )
        r.raise_for_status()
        similar = [h["title"] for h in (r.json().get("query") or {}).get("search", [])[:5]]
        return f"Could not find {entity}. Similar: {similar}."

    async def _search(self, query: str) -> str:
        r = await self.client.get(
            f"{self.bing_url}/v7.0/search",
            params={"q": query, "count": 5},
            headers={"Ocp-Apim-Subscription-Key": self.bing_key},
        )
        r.raise_for_status()
        hits = ((r.json().get("webPages") or {}).get("value")) or []
        if not hits:
            return f"No results for {query}."
        return self._keep(" ".join(h.get("snippet", "") for h in hits[:3]))

    def _lookup(self, keyword: str) -> str:
        if not self.passage:
            return "Lookup needs a passage: use Retrieve or BingSearch first."
        last, index = self.lookup
        index = index if last == keyword.lower() else 0
        hits = [s for s in self.passage if keyword.lower() in s.lower()]
        if index >= len(hits):
            return "No more results."
        self.lookup = (keyword.lower(), index + 1)
        return f"(Result {index + 1} / {len(hits)}) {hits[index]}"
