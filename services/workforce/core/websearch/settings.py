"""The web search providers' settings, from `WF_WEB_*` environment variables (shared by worker-web's
`web_search` tool and AutoAct's Search action; worker-web's own settings extend these).

API keys come from the variable itself or from a file named by `<NAME>_FILE` (a mounted Kubernetes secret).
"""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class SearchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WF_WEB_", extra="ignore")

    # --- search providers; empty list = every provider that has a key, in this order ---
    search_providers: str = ""            # e.g. "brave,tavily" (also the fallback order)
    search_max_results: int = 10
    brave_api_key: str = ""
    brave_api_key_file: str = ""
    brave_url: str = "https://api.search.brave.com/res/v1/web/search"
    serpapi_api_key: str = ""
    serpapi_api_key_file: str = ""
    serpapi_url: str = "https://serpapi.com/search.json"
    serpapi_engine: str = "google"
    tavily_api_key: str = ""
    tavily_api_key_file: str = ""
    tavily_url: str = "https://api.tavily.com/search"
    google_api_key: str = ""
    google_api_key_file: str = ""
    google_cse_id: str = ""               # the Programmable Search Engine id (cx)
    google_url: str = "https://www.googleapis.com/customsearch/v1"

    def secret(self, name: str) -> str:
        """`<name>_api_key`, or the content of the file `<name>_api_key_file` names."""
        value = getattr(self, f"{name}_api_key")
        path = getattr(self, f"{name}_api_key_file")
        if not value and path:
            value = Path(path).read_text().strip()
        return value
