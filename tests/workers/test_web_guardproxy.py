"""The browser's guard proxy on its own: plain HTTP requests and CONNECT tunnels, allowed and refused; and the
fetcher's transport refusing at connection time (the check that holds even if DNS answers change)."""

import asyncio

import httpx
import pytest
from workforce.workers.guarded_http import GuardedTransport
from workforce.workers.web.guardproxy import GuardProxy
from workforce.workers.netguard import BlockedAddress, NetGuard

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]


@pytest.fixture
async def proxy(site):
    p = await GuardProxy(NetGuard(f"127.0.0.1:{site.port}"), max_bytes=1024 * 1024).start()
    yield p
    await p.close()


async def test_plain_http_through_the_proxy(proxy, site, other):
    async with httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client:
        ok = await client.get(site.url("/plain.txt"))
        assert ok.status_code == 200 and ok.text.startswith("plain text file")
        assert (
            site.hits("/plain.txt")[-1].headers["connection"] == "close"
        )  # one request per upstream connection
        refused = await client.get(other.url("/secret"))
        assert refused.status_code == 403 and refused.headers["x-workforce-guard"] == "blocked"
        assert f"refused 127.0.0.1:{other.port}: 127.0.0.1 is a loopback address" == refused.text
        meta = await client.get("http://169.254.169.254/latest/meta-data/")
        assert meta.status_code == 403 and "cloud metadata" in meta.text
    assert other.hits("/secret") == [] and len(proxy.refused) == 2


async def test_responses_over_the_limit_are_cut(proxy, site):
    async with httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client:
        response = await client.get(site.url("/big-stream"))  # 50 MiB sent until the connection closes
        assert len(response.content) < 1024 * 1024  # the proxy closed it after 1 MiB
    assert "cut off after the limit of 1048576 bytes" in proxy.refused[-1]


async def connect(proxy: GuardProxy, target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    port = int(proxy.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def test_connect_tunnels(proxy, site, other):
    reader, writer, head = await connect(proxy, f"127.0.0.1:{other.port}")
    assert head.startswith(b"HTTP/1.1 403") and b"X-Workforce-Guard: blocked" in head
    writer.close()

    reader, writer, head = await connect(proxy, f"127.0.0.1:{site.port}")
    assert head.startswith(b"HTTP/1.1 200 Connection established")
    writer.write(b"GET /plain.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # through the tunnel
    response = await asyncio.wait_for(reader.read(), 10)
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"line two")
    writer.close()
    assert other.requests == []


async def test_garbage_gets_a_400(proxy):
    port = int(proxy.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.1 400")
    writer.close()


async def test_the_fetch_transport_refuses_at_connection_time(other):
    # no check_url before the request: the connection itself is guarded
    async with httpx.AsyncClient(transport=GuardedTransport(NetGuard())) as client:
        with pytest.raises(BlockedAddress, match="loopback"):
            await client.get(other.url("/secret"))
    assert other.hits("/secret") == []
