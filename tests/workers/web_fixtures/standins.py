"""Stand-ins for the third-party APIs the web worker calls, speaking each API's documented request and response
format (the only fakes the tests use). Each returns routes for a StandIn server; each checks the request the way
the real API does (key header or parameter, required parameters) and answers with the real error shapes."""

import json
from datetime import datetime, timedelta
from pathlib import Path

from .server import Reply, Request

RESPONSES = Path(__file__).parent / "responses"
KEY = "test-key-123"


def _load(name: str) -> dict:
    return json.loads((RESPONSES / name).read_text())


# ---- search providers ----


def brave(request: Request) -> Reply:
    if request.headers.get("x-subscription-token") != KEY:
        return Reply.json(
            {
                "type": "ErrorResponse",
                "error": {
                    "id": "c1a8e2d4",
                    "status": 401,
                    "code": "SUBSCRIPTION_TOKEN_INVALID",
                    "detail": "The provided subscription token is invalid.",
                },
                "time": 1700000000,
            },
            401,
        )
    if not request.query.get("q"):
        return Reply.json(
            {
                "type": "ErrorResponse",
                "error": {
                    "status": 422,
                    "code": "VALIDATION",
                    "detail": "Unable to validate request parameter(s)",
                },
            },
            422,
        )
    body = _load("brave.json")
    body["query"]["original"] = request.query["q"]
    body["web"]["results"] = body["web"]["results"][: int(request.query.get("count", 20))]
    return Reply.json(body)


def serpapi(request: Request) -> Reply:
    if request.query.get("api_key") != KEY:
        return Reply.json(
            {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}, 401
        )
    if request.query.get("engine") != "google" or not request.query.get("q"):
        return Reply.json({"error": "Missing query `q` parameter."}, 400)
    body = _load("serpapi.json")
    body["search_parameters"]["q"] = request.query["q"]
    return Reply.json(body)


def tavily(request: Request) -> Reply:
    if request.method != "POST":
        return Reply.json({"detail": "Method Not Allowed"}, 405)
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return Reply.json({"detail": {"error": "Unauthorized: missing or invalid API key."}}, 401)
    payload = request.json()
    if not payload.get("query"):
        return Reply.json({"detail": {"error": "Query is missing."}}, 400)
    body = _load("tavily.json")
    body["query"] = payload["query"]
    body["results"] = body["results"][: payload.get("max_results", 5)]
    return Reply.json(body)


def google(request: Request) -> Reply:
    if request.query.get("key") != KEY:
        return Reply.json(
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            400,
        )
    if not request.query.get("cx"):
        return Reply.json(
            {
                "error": {
                    "code": 400,
                    "message": "Request contains an invalid argument.",
                    "status": "INVALID_ARGUMENT",
                }
            },
            400,
        )
    return Reply.json(_load("google.json"))


def rate_limited(request: Request) -> Reply:
    """Brave's answer when the plan's rate limit is exceeded."""
    return Reply.json(
        {
            "type": "ErrorResponse",
            "error": {
                "status": 429,
                "code": "RATE_LIMITED",
                "detail": "Request rate limit exceeded for plan.",
            },
        },
        429,
    )


# ---- MediaWiki Action API ----


class MediaWiki:
    """One article, 'Mercedes Sosa', with REVISIONS edits every 4 days from 2004-03-01; the revision text
    counts the albums known at that time, so a test can tell which revision it was given."""

    TITLE = "Mercedes Sosa"
    START = datetime(2004, 3, 1, 12, 0, 0)
    REVISIONS = 1234
    FIRST_REVID = 1000

    def revisions(self) -> list[dict]:
        out = []
        for i in range(self.REVISIONS):
            out.append(
                {
                    "revid": self.FIRST_REVID + i,
                    "parentid": self.FIRST_REVID + i - 1 if i else 0,
                    "user": f"Editor{i % 17}",
                    "timestamp": (self.START + timedelta(days=4 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "size": 20000 + i,
                    "comment": f"edit {i}",
                }
            )
        return out

    def html(self, revid: int) -> str:
        albums = 10 + (revid - self.FIRST_REVID) // 100
        return (
            f'<div class="mw-parser-output"><p><b>Mercedes Sosa</b> (1935–2009) was an Argentine singer. '
            f"This revision {revid} lists {albums} studio albums in her discography, which is described at "
            f"length below with the years of publication and the labels that released them.</p>"
            f'<h2>Discography</h2><table class="wikitable"><tr><th>Year</th><th>Album</th></tr>'
            f"<tr><td>1962</td><td>La Voz De La Zafra</td></tr><tr><td>2009</td><td>Cantora 1</td></tr>"
            f"</table><p>Her final recordings were released shortly before her death in October 2009.</p></div>"
        )

    def __call__(self, request: Request) -> Reply:
        q = request.query
        if q.get("format") != "json":
            return Reply(200, "<html>MediaWiki API help</html>")
        action = q.get("action")
        if action == "query" and q.get("list") == "search":
            return self._search(q)
        if action == "query" and q.get("prop") == "revisions":
            return self._revisions(q)
        if action == "parse":
            return self._parse(q)
        return Reply.json(
            {"error": {"code": "badvalue", "info": 'Unrecognized value for parameter "action".'}}
        )

    def _missing(self) -> Reply:
        return Reply.json(
            {"batchcomplete": True, "query": {"pages": [{"ns": 0, "title": "No such page", "missing": True}]}}
        )

    def _search(self, q: dict) -> Reply:
        hits = (
            []
            if "zzz" in q.get("srsearch", "")
            else [
                {
                    "ns": 0,
                    "title": self.TITLE,
                    "pageid": 476992,
                    "size": 24567,
                    "wordcount": 2801,
                    "snippet": '<span class="searchmatch">Mercedes</span> <span class="searchmatch">Sosa</span> was an '
                    "Argentine singer",
                    "timestamp": "2024-05-01T10:00:00Z",
                },
                {
                    "ns": 0,
                    "title": "Cantora, un Viaje Íntimo",
                    "pageid": 2210001,
                    "size": 5000,
                    "wordcount": 600,
                    "snippet": 'a double album by <span class="searchmatch">Mercedes</span> Sosa',
                    "timestamp": "2023-11-02T08:00:00Z",
                },
            ]
        )
        return Reply.json(
            {
                "batchcomplete": True,
                "continue": {"sroffset": len(hits), "continue": "-||"},
                "query": {"searchinfo": {"totalhits": len(hits)}, "search": hits[: int(q["srlimit"])]},
            }
        )

    def _revisions(self, q: dict) -> Reply:
        if q.get("titles") != self.TITLE:
            return self._missing()
        revs = list(reversed(self.revisions()))  # rvdir=older: newest first
        if q.get("rvdir", "older") != "older":
            return Reply.json({"error": {"code": "badvalue", "info": "stand-in supports rvdir=older only"}})
        if "rvstart" in q:
            revs = [r for r in revs if r["timestamp"] <= q["rvstart"]]
        if "rvend" in q:
            revs = [r for r in revs if r["timestamp"] >= q["rvend"]]
        if "rvcontinue" in q:
            after = int(q["rvcontinue"].split("|")[1])
            revs = [r for r in revs if r["revid"] <= after]
        limit = 500 if q.get("rvlimit") == "max" else int(q.get("rvlimit", 1))
        batch, rest = revs[:limit], revs[limit:]
        body = {"query": {"pages": [{"pageid": 476992, "ns": 0, "title": self.TITLE, "revisions": batch}]}}
        if rest:
            body["continue"] = {
                "rvcontinue": f"{rest[0]['timestamp'].replace('-', '')[:8]}|{rest[0]['revid']}",
                "continue": "||",
            }
        else:
            body["batchcomplete"] = True
        return Reply.json(body)

    def _parse(self, q: dict) -> Reply:
        if "oldid" in q:
            revid = int(q["oldid"])
            if not self.FIRST_REVID <= revid < self.FIRST_REVID + self.REVISIONS:
                return Reply.json(
                    {"error": {"code": "nosuchrevid", "info": f"There is no revision with ID {revid}."}}
                )
        elif q.get("page") == self.TITLE:
            revid = self.FIRST_REVID + self.REVISIONS - 1
        else:
            return Reply.json(
                {"error": {"code": "missingtitle", "info": "The page you specified doesn't exist."}}
            )
        return Reply.json(
            {
                "parse": {
                    "title": self.TITLE,
                    "pageid": 476992,
                    "revid": revid,
                    "displaytitle": self.TITLE,
                    "text": self.html(revid),
                }
            }
        )


# ---- the Wayback Machine ----


class Wayback:
    """Snapshots of http://example.com/ on three dates; the availability, CDX and snapshot endpoints."""

    SNAPSHOTS = ("20190105120000", "20200315083000", "20221201000000")
    URL = "http://example.com/"

    def __init__(self, server):
        self.server = server

    def routes(self) -> dict:
        routes = {"/wayback/available": self.available, "/cdx/search/cdx": self.cdx}
        for ts in self.SNAPSHOTS:
            routes[f"/web/{ts}id_/{self.URL}"] = self._snapshot(ts)
        return routes

    def _closest(self, timestamp: str) -> str:
        target = int((timestamp or "99991231")[:14].ljust(14, "0"))
        return min(self.SNAPSHOTS, key=lambda ts: abs(int(ts) - target))

    def available(self, request: Request) -> Reply:
        url = request.query.get("url", "")
        if url.rstrip("/") not in (self.URL.rstrip("/"), "example.com"):
            return Reply.json({"url": url, "archived_snapshots": {}})
        ts = self._closest(request.query.get("timestamp", ""))
        return Reply.json(
            {
                "url": url,
                "archived_snapshots": {
                    "closest": {
                        "status": "200",
                        "available": True,
                        "timestamp": ts,
                        "url": f"http://127.0.0.1:{self.server.port}/web/{ts}/{self.URL}",
                    }
                },
            }
        )

    def cdx(self, request: Request) -> Reply:
        q = request.query
        if q.get("output") != "json":
            return Reply(
                200,
                "\n".join(f"com,example)/ {ts} {self.URL} text/html 200 X 1000" for ts in self.SNAPSHOTS),
                "text/plain",
            )
        rows = [
            ts
            for ts in self.SNAPSHOTS
            if (not q.get("from") or ts >= q["from"]) and (not q.get("to") or ts[: len(q["to"])] <= q["to"])
        ]
        fields = q.get("fl", "urlkey,timestamp,original,mimetype,statuscode,digest,length").split(",")
        values = {
            "timestamp": None,
            "original": self.URL,
            "statuscode": "200",
            "mimetype": "text/html",
            "length": "1000",
            "urlkey": "com,example)/",
            "digest": "ABCDEF",
        }
        table = [fields] + [[ts if f == "timestamp" else values[f] for f in fields] for ts in rows]
        return Reply(200, json.dumps(table[: int(q.get("limit", 1000)) + 1]), "application/json")

    def _snapshot(self, ts: str):
        year = ts[:4]
        return Reply(
            200,
            f"<html><head><title>Example Domain ({year})</title></head><body><article>"
            f"<h1>Example Domain</h1><p>This is the archived copy of example.com captured in {year}. "
            f"In {year} the page said that the domain is for use in illustrative examples in "
            f"documents, and the marker for this capture is capture-{ts}.</p></article></body></html>",
        )
