"""Fetching a URL with httpx under the network guard, with size and time limits.

Redirects are followed here, one hop at a time, and every hop's target is checked before it is requested.
The transport (workers/guarded_http.py) resolves and checks the host again when it opens a connection and
connects to the checked address itself, so a name that changes its answer between check and connect is still
refused.
"""

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from trafilatura.utils import decode_file

from .config import WebSettings
from ..guarded_http import GuardedTransport
from ..netguard import BlockedAddress, NetGuard

REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A fetch that could not complete (too large, too slow, too many redirects, unreachable)."""


@dataclass
class Fetched:
    url: str                  # as asked
    final_url: str            # after redirects
    status: int
    content_type: str
    body: bytes
    redirects: list[str] = field(default_factory=list)
    headers: dict = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text: the charset the server declared, else detected (meta tags, byte statistics)."""
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                try:
                    return self.body.decode(value.strip('"'), errors="replace")
                except LookupError:
                    break
        return decode_file(self.body)


class Fetcher:
    def __init__(self, settings: WebSettings, guard: NetGuard):
        self.settings = settings
        self.guard = guard
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(guard), follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(settings.fetch_timeout_s, connect=settings.fetch_connect_timeout_s),
            headers={"User-Agent": settings.user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
        )

    async def get(self, url: str) -> Fetched:
        """GET a URL: guard checked on every hop, at most max_redirects hops, fetch_max_bytes, fetch_timeout_s."""
        try:
            async with asyncio.timeout(self.settings.fetch_timeout_s):
                return await self._get(url)
        except TimeoutError:
            raise FetchError(f"fetching {url} took longer than {self.settings.fetch_timeout_s:g} s") from None

    async def _get(self, url: str) -> Fetched:
        current, hops = url, []
        for _ in range(self.settings.max_redirects + 1):
            await self.guard.check_url(current)
            try:
                async with self.client.stream("GET", current) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        hops.append(current)
                        current = urljoin(current, location)
                        continue
                    body = await self._read_limited(current, response)
                    return Fetched(url, current, response.status_code, response.headers.get("content-type", ""),
                                   body, hops, dict(response.headers))
            except BlockedAddress:
                raise
            except (httpx.TransportError, OSError) as exc:
                raise FetchError(f"cannot fetch {current}: {type(exc).__name__}: {exc}") from None
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects}) starting at {url}")

    async def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        limit = self.settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{url} is {int(declared)} bytes, over the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(f"{url} sent more than the limit of {limit} bytes; stopped reading")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        await self.client.aclose()
