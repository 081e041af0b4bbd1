"""Web search through pluggable providers (Brave, SerpApi, Tavily, Google), chosen by WF_WEB_* settings:
`providers.py` (the HTTP APIs), `settings.py` (keys, endpoints, order)."""
