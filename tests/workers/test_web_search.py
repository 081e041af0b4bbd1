"""Search providers against local stand-ins that speak each provider's HTTP API."""

import httpx
import pytest
from workforce.workers.web.config import WebSettings
from workforce.core.websearch.providers import SearchError, WebSearch, configured_providers

from .web_fixtures import standins
from .web_fixtures.server import StandIn

KEY = standins.KEY


@pytest.fixture(scope="module")
def apis():
    server = StandIn().start()
    server.add("/brave", standins.brave).add("/serpapi", standins.serpapi).add("/tavily", standins.tavily)
    server.add("/google", standins.google).add("/limited", standins.rate_limited)
    yield server
    server.stop()


def settings(apis, **values) -> WebSettings:
    urls = {
        "brave_url": apis.url("/brave"),
        "serpapi_url": apis.url("/serpapi"),
        "tavily_url": apis.url("/tavily"),
        "google_url": apis.url("/google"),
    }
    return WebSettings(**(urls | values))


async def search(apis, query="Mercedes Sosa albums", n=5, **values):
    async with httpx.AsyncClient() as client:
        return await WebSearch(settings(apis, **values), client).search(query, n)


@pytest.mark.parametrize(
    "provider, first_url",
    [
        ("brave", "https://en.wikipedia.org/wiki/Mercedes_Sosa"),
        ("serpapi", "https://en.wikipedia.org/wiki/Mercedes_Sosa"),
        ("tavily", "https://en.wikipedia.org/wiki/Mercedes_Sosa"),
        ("google", "https://en.wikipedia.org/wiki/Mercedes_Sosa"),
    ],
)
async def test_each_provider(apis, provider, first_url):
    before = len(apis.requests)
    name, results = await search(
        apis, n=2, search_providers=provider, google_cse_id="cx-1", **{f"{provider}_api_key": KEY}
    )
    assert name == provider and len(results) == 2
    assert results[0].url == first_url and results[0].title and results[0].snippet
    assert "<strong>" not in results[0].snippet
    request = apis.requests[before]
    assert request.path == f"/{provider}"
    if provider == "tavily":
        assert request.method == "POST" and request.json() == {
            "query": "Mercedes Sosa albums",
            "max_results": 2,
        }
    else:
        assert request.method == "GET" and "Mercedes Sosa albums" in request.query.values()


async def test_wrong_key_is_reported_with_the_providers_message(apis):
    with pytest.raises(SearchError, match="brave: HTTP 401: .*SUBSCRIPTION_TOKEN_INVALID|invalid"):
        await search(apis, search_providers="brave", brave_api_key="wrong")
    with pytest.raises(SearchError, match="serpapi: HTTP 401: Invalid API key"):
        await search(apis, search_providers="serpapi", serpapi_api_key="wrong")


async def test_falls_back_to_the_next_provider(apis):
    name, results = await search(
        apis,
        search_providers="brave,tavily",
        brave_api_key=KEY,
        tavily_api_key=KEY,
        brave_url=apis.url("/limited"),
    )
    assert name == "tavily" and results[0].title == "Mercedes Sosa - Wikipedia"


async def test_every_provider_failing_names_each_failure(apis):
    with pytest.raises(SearchError, match="brave: HTTP 429.*Request rate limit.*serpapi: HTTP 401"):
        await search(
            apis,
            search_providers="brave,serpapi",
            brave_api_key=KEY,
            serpapi_api_key="wrong",
            brave_url=apis.url("/limited"),
        )


async def test_no_provider_configured_is_a_clear_error(apis):
    with pytest.raises(
        SearchError, match="no web search provider is configured: set one of WF_WEB_BRAVE_API_KEY"
    ):
        await search(apis)


def test_configuration_errors():
    with pytest.raises(SearchError, match="unknown search provider.*bing"):
        configured_providers(WebSettings(search_providers="bing"))
    with pytest.raises(SearchError, match="'tavily' is selected but WF_WEB_TAVILY_API_KEY"):
        configured_providers(WebSettings(search_providers="tavily"))


def test_providers_in_order_of_their_keys_and_keys_from_secret_files(tmp_path, monkeypatch):
    secret = tmp_path / "serpapi-key"
    secret.write_text(KEY + "\n")
    monkeypatch.setenv("WF_WEB_SERPAPI_API_KEY_FILE", str(secret))
    monkeypatch.setenv("WF_WEB_GOOGLE_API_KEY", "g")
    providers = configured_providers(WebSettings())
    assert [p.name for p in providers] == ["serpapi", "google"] and providers[0].api_key == KEY


async def test_google_needs_the_search_engine_id(apis):
    with pytest.raises(SearchError, match="WF_WEB_GOOGLE_CSE_ID"):
        await search(apis, search_providers="google", google_api_key=KEY)


async def test_the_tool_renders_results(apis, tmp_path):
    from workforce.core.config import Settings
    from workforce.workers.web.tools import WebTools

    from .web_fixtures.helpers import make_ctx

    tools = WebTools(Settings(), settings(apis, tavily_api_key=KEY))
    try:
        text = await tools.web_search(make_ctx(tmp_path), "Mercedes Sosa", max_results=2)
        assert text.startswith("Results for 'Mercedes Sosa' (tavily):\n1. Mercedes Sosa - Wikipedia")
        assert "https://www.britannica.com/biography/Mercedes-Sosa" in text
    finally:
        await tools.close()
