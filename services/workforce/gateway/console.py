"""The web console (static files shipped in this package, served at /) and the API docs with local assets
(Swagger UI and ReDoc from the pinned fastapi-offline package), so both work with no Internet access."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).parent / "console"
# Only same-origin code and data; no inline script, no framing (the API key lives in this page's sessionStorage).
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def _docs_assets() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    return Path(fastapi_offline.__file__).parent / "static"


class _ConsoleFiles(StaticFiles):
    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CONSOLE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI, auth_required: bool = True) -> None:
    app.mount("/console", _ConsoleFiles(directory=CONSOLE_DIR), name="console")
    # The page says whether the API wants a key, so a first visit asks for one instead of being refused (a 401).
    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8").replace(
        '<html lang="en">', f'<html lang="en" data-auth="{"on" if auth_required else "off"}">', 1)

    @app.get("/", include_in_schema=False)
    async def index():
        return HTMLResponse(page, headers={
            "Content-Security-Policy": CONSOLE_CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

    assets = _docs_assets()
    if assets is None:
        return
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} — API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc():
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} — API",
                              redoc_js_url="/docs-assets/redoc.standalone.js",
                              redoc_favicon_url="/docs-assets/favicon.png", with_google_fonts=False)
