"""DNS rebinding against every fetching component (the document tools' fetch by URL and the web worker's
fetcher): a name answers with a permitted address when it is checked and with a blocked one afterwards. The
connection must go to an address that was checked (the guard checks when a URL is accepted and again, pinning
the address, when a connection opens): the fetch is refused and the blocked address is never contacted.

Two real HTTP servers listen on the same port: the permitted one on 127.0.0.2 (the allowlist names that address
only), the "internal" one on 127.0.0.1. The name is resolved by a stand-in for DNS (socket.getaddrinfo of this
process) that answers 127.0.0.2 for the first lookups and 127.0.0.1 from then on, as a rebinding DNS server
would.
"""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workforce.workers.document.config import DocumentSettings
from workforce.workers.document.fetch import fetch_document
from workforce.workers.document.model import DocumentError
from workforce.workers.netguard import NetGuard

NAME = "rebind.example"
PERMITTED, INTERNAL = "127.0.0.2", "127.0.0.1"


def _server(address: str, port: int, body: bytes, seen: list):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def servers():
    internal_seen, permitted_seen = [], []
    internal = _server(INTERNAL, 0, b"internal secrets", internal_seen)
    port = internal.server_port
    permitted = _server(PERMITTED, port, b"public report", permitted_seen)
    yield port, internal_seen, permitted_seen
    internal.shutdown()
    permitted.shutdown()


class RebindingDNS:
    """getaddrinfo for NAME: the permitted address for the first `honest` lookups, the internal one after."""

    def __init__(self, monkeypatch, honest: int):
        self.real, self.honest, self.answers = socket.getaddrinfo, honest, []
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, *args, **kwargs):
        if host != NAME:
            return self.real(host, port, *args, **kwargs)
        address = PERMITTED if len(self.answers) < self.honest else INTERNAL
        self.answers.append(address)
        return self.real(address, port, *args, **kwargs)


def test_the_stand_in_rebinds(monkeypatch):
    dns = RebindingDNS(monkeypatch, honest=1)
    assert [socket.getaddrinfo(NAME, 80)[0][4][0] for _ in range(2)] == [PERMITTED, INTERNAL]
    assert dns.answers == [PERMITTED, INTERNAL]


async def _document(url: str) -> bytes:
    _, data, _ = await fetch_document(url, DocumentSettings(doc_fetch_allow_hosts=f"{PERMITTED}/32"))
    return data


async def _web(url: str) -> bytes:
    from workforce.workers.web.config import WebSettings
    from workforce.workers.web.fetch import Fetcher

    settings = WebSettings(net_allowlist=f"{PERMITTED}/32", fetch_timeout_s=5)
    fetcher = Fetcher(settings, NetGuard(settings.net_allowlist))
    try:
        return (await fetcher.get(url)).body
    finally:
        await fetcher.close()


FETCHERS = {"document": (_document, DocumentError), "web": (_web, Exception)}


@pytest.mark.parametrize("component", FETCHERS)
async def test_a_name_that_rebinds_after_the_check_is_refused(component, servers, monkeypatch):
    fetch, error = FETCHERS[component]
    port, internal_seen, permitted_seen = servers
    dns = RebindingDNS(monkeypatch, honest=1)
    with pytest.raises(error, match="127.0.0.1 is a loopback address"):
        await fetch(f"http://{NAME}:{port}/report.txt")
    assert internal_seen == [] and permitted_seen == []
    assert dns.answers[0] == PERMITTED and INTERNAL in dns.answers


@pytest.mark.parametrize("component", FETCHERS)
async def test_every_connection_goes_to_the_address_that_was_checked(component, servers, monkeypatch):
    """However many lookups a fetch makes, the connection is opened to the address the last check accepted:
    a name answering the permitted address to every check and the internal one to any other lookup (a second
    resolution by the HTTP stack) still reaches only the permitted server."""
    fetch, _ = FETCHERS[component]
    port, internal_seen, permitted_seen = servers
    checks = []
    real_resolve = NetGuard.resolve

    async def resolve(self, host, port):
        dns.honest = len(dns.answers) + 1  # this lookup (the guard's) answers honestly
        checks.append(host)
        return await real_resolve(self, host, port)

    dns = RebindingDNS(monkeypatch, honest=0)
    monkeypatch.setattr(NetGuard, "resolve", resolve)
    assert await fetch(f"http://{NAME}:{port}/report.txt") == b"public report"
    assert permitted_seen == ["/report.txt"] and internal_seen == [] and checks


async def test_document_allowlist_by_host_name_still_checks_nothing_else(servers):
    """WF_DOC_FETCH_ALLOW_HOSTS keeps accepting bare host names (its old form)."""
    port, internal_seen, _ = servers
    settings = DocumentSettings(doc_fetch_allow_hosts="localhost")
    _, data, _ = await fetch_document(f"http://localhost:{port}/by-name", settings)
    assert data == b"internal secrets" and internal_seen == ["/by-name"]
    with pytest.raises(DocumentError, match="loopback"):
        await fetch_document(f"http://127.0.0.1:{port}/by-address", settings)
