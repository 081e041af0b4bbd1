"""Web search through pluggable providers chosen by configuration (WF_WEB_SEARCH_PROVIDERS and API keys).

Implemented against each provider's documented HTTP API:
  brave    GET  {brave_url}?q=&count=            header X-Subscription-Token  → web.results[].{title,url,description}
  serpapi  GET  {serpapi_url}?engine=&q=&num=&api_key=                        → organic_results[].{title,link,snippet}
  tavily   POST {tavily_url} {query,max_results}  header Authorization: Bearer → results[].{title,url,content}
  google   GET  {google_url}?key=&cx=&q=&num=   (Custom Search JSON API)      → items[].{title,link,snippet}
Providers are tried in order; the next one is used when one fails.
"""

from dataclasses import dataclass

import httpx

from .settings import SearchSettings

PROVIDERS = ("brave", "serpapi", "tavily", "google")


class SearchError(Exception):
    """No provider configured, or every configured provider failed."""


@dataclass
class SearchResult:
    title: str
    url: str
    snippet: str

    def render(self, n: int) -> str:
        return f"{n}. {self.title}\n   {self.url}\n   {self.snippet}"


class Provider:
    name = ""

    def __init__(self, settings: SearchSettings, api_key: str):
        self.settings = settings
        self.api_key = api_key

    async def search(self, client: httpx.AsyncClient, query: str, n: int) -> list[SearchResult]:
        raise NotImplementedError

    def _check(self, response: httpx.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise SearchError(f"{self.name}: HTTP {response.status_code}: {_error_text(body, response)}")
        if not isinstance(body, dict):
            raise SearchError(f"{self.name}: the response is not a JSON object")
        return body


class Brave(Provider):
    name = "brave"

    async def search(self, client, query, n):
        response = await client.get(self.settings.brave_url, params={"q": query, "count": min(n, 20)},
                                    headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"})
        body = self._check(response)
        return [SearchResult(r.get("title", ""), r.get("url", ""), _plain(r.get("description", "")))
                for r in (body.get("web") or {}).get("results", [])][:n]


class SerpApi(Provider):
    name = "serpapi"

    async def search(self, client, query, n):
        params = {"engine": self.settings.serpapi_engine, "q": query, "num": n, "api_key": self.api_key}
        body = self._check(await client.get(self.settings.serpapi_url, params=params))
        if body.get("error"):  # SerpApi answers some failures with 200 and an "error" field
            raise SearchError(f"serpapi: {body['error']}")
        return [SearchResult(r.get("title", ""), r.get("link", ""), r.get("snippet", ""))
                for r in body.get("organic_results", [])][:n]


class Tavily(Provider):
    name = "tavily"

    async def search(self, client, query, n):
        response = await client.post(self.settings.tavily_url, json={"query": query, "max_results": min(n, 20)},
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        body = self._check(response)
        return [SearchResult(r.get("title", ""), r.get("url", ""), r.get("content", ""))
                for r in body.get("results", [])][:n]


class Google(Provider):
    name = "google"

    async def search(self, client, query, n):
        if not self.settings.google_cse_id:
            raise SearchError("google: WF_WEB_GOOGLE_CSE_ID (the search engine id) is not set")
        params = {"key": self.api_key, "cx": self.settings.google_cse_id, "q": query, "num": min(n, 10)}
        body = self._check(await client.get(self.settings.google_url, params=params))
        return [SearchResult(r.get("title", ""), r.get("link", ""), r.get("snippet", ""))
                for r in body.get("items", [])][:n]


CLASSES = {cls.name: cls for cls in (Brave, SerpApi, Tavily, Google)}


def configured_providers(settings: SearchSettings) -> list[Provider]:
    names = [n.strip().lower() for n in settings.search_providers.split(",") if n.strip()]
    unknown = [n for n in names if n not in CLASSES]
    if unknown:
        raise SearchError(f"unknown search provider(s) {', '.join(unknown)}; known: {', '.join(PROVIDERS)}")
    explicit = bool(names)
    providers = []
    for name in names or PROVIDERS:
        key = settings.secret(name)
        if key:
            providers.append(CLASSES[name](settings, key))
        elif explicit:
            raise SearchError(f"search provider {name!r} is selected but WF_WEB_{name.upper()}_API_KEY "
                              f"(or WF_WEB_{name.upper()}_API_KEY_FILE) is empty")
    return providers


class WebSearch:
    def __init__(self, settings: SearchSettings, client: httpx.AsyncClient):
        self.settings = settings
        self.client = client
        self.providers = configured_providers(settings)

    async def search(self, query: str, n: int = 5) -> tuple[str, list[SearchResult]]:
        """(provider name, results) from the first provider that answers."""
        if not query.strip():
            raise SearchError("the query is empty")
        if not self.providers:
            raise SearchError(
                "no web search provider is configured: set one of WF_WEB_BRAVE_API_KEY, WF_WEB_SERPAPI_API_KEY, "
                "WF_WEB_TAVILY_API_KEY, or WF_WEB_GOOGLE_API_KEY with WF_WEB_GOOGLE_CSE_ID (or the matching *_FILE "
                "variable); Wikipedia and page fetching work without one")
        errors = []
        for provider in self.providers:
            try:
                return provider.name, await provider.search(self.client, query, n)
            except SearchError as exc:
                errors.append(str(exc))
            except httpx.HTTPError as exc:
                errors.append(f"{provider.name}: {type(exc).__name__}: {exc}")
        raise SearchError("every search provider failed: " + "; ".join(errors))


def _plain(text: str) -> str:
    """Brave marks matches with <strong>; the model wants plain text."""
    return text.replace("<strong>", "").replace("</strong>", "")


def _error_text(body, response: httpx.Response) -> str:
    if isinstance(body, dict):
        error = body.get("error") or body.get("detail") or body.get("message") or body
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        return str(error)[:300]
    return response.text[:300]
