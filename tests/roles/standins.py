"""Local HTTP stand-ins for third-party APIs (a weather API with an OpenAPI document, a ToolBench/RapidAPI
bridge, the MediaWiki Action API), each a real HTTP server on 127.0.0.1 in a thread."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGES = {
    "Badr Hari": "Badr Hari (born 8 December 1984) is a Moroccan-Dutch super heavyweight kickboxer.\n"
    "== Career ==\nHe was once considered the best kickboxer in the world.\n"
    "Hari has been involved in a number of controversies relating to his unsportsmanlike conduct.",
    "Paris": "Paris is the capital and largest city of France.\nIts river is the Seine.",
}

OPENAPI = {
    "openapi": "3.0.0",
    "info": {"title": "weather", "version": "1"},
    "paths": {
        "/cities/{city}/weather": {
            "get": {
                "operationId": "city_weather",
                "summary": "Current weather of a city.",
                "parameters": [
                    {"name": "city", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "units", "in": "query", "schema": {"type": "string", "enum": ["c", "f"]}},
                ],
            }
        },
        "/notes": {
            "post": {
                "operationId": "add_note",
                "summary": "Store a note.",
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}}
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Note": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        }
    },
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.calls.append(("GET", url.path, query))
        if url.path.startswith("/cities/") and url.path.endswith("/weather"):
            city = url.path.split("/")[2]
            return self._send(200, {"city": city, "temperature": 21, "units": query.get("units", "c")})
        if url.path == "/w/api.php":
            if query.get("list") == "search":
                hits = [{"title": t} for t in PAGES if query["srsearch"].split()[0].lower() in t.lower()]
                return self._send(200, {"query": {"search": hits}})
            title = query.get("titles", "")
            if title in PAGES:
                return self._send(200, {"query": {"pages": [{"title": title, "extract": PAGES[title]}]}})
            return self._send(200, {"query": {"pages": [{"title": title, "missing": True}]}})
        self._send(404, {"error": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.calls.append(("POST", self.path, body))
        if self.path == "/notes":
            return self._send(201, {"id": 1, **body})
        if self.path == "/toolbench":
            return self._send(200, {"error": "", "response": f"{body['api_name']} got {body['tool_input']}"})
        self._send(404, {"error": "not found"})


class StandIn:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.calls = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def calls(self) -> list:
        return self.server.calls

    def __enter__(self) -> "StandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
