"""Fetch a document by URL: http(s) only, size and time limits, under the workers' network guard
(workers/netguard.py): no private / loopback / link-local / metadata addresses, checked on every redirect hop
and again when a connection opens, which goes to the address that was checked (no DNS rebinding between check
and connect). WF_DOC_FETCH_ALLOW_HOSTS is the guard's allowlist (hosts, host:port, addresses or networks)."""

from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from ..guarded_http import GuardedTransport
from ..netguard import BlockedAddress, NetGuard
from .config import DocumentSettings
from .model import DocumentError

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}


def _filename(url: str, response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition", "")
    if "filename=" in disposition:
        name = disposition.split("filename=", 1)[1].split(";")[0].strip().strip('"')
        if name:
            return PurePosixPath(name).name
    return PurePosixPath(unquote(urlsplit(url).path)).name or urlsplit(url).hostname or "download"


async def fetch_document(url: str, settings: DocumentSettings) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the document at `url`."""
    try:
        guard = NetGuard(settings.doc_fetch_allow_hosts, "WF_DOC_FETCH_ALLOW_HOSTS")
    except ValueError as exc:
        raise DocumentError(url, str(exc)) from None
    limit = settings.doc_max_bytes
    async with httpx.AsyncClient(
        transport=GuardedTransport(guard),
        follow_redirects=False,
        trust_env=False,
        timeout=settings.doc_fetch_timeout_s,
        headers={"User-Agent": "workforce-document/1.0"},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                await guard.check_url(url)
                async with client.stream("GET", url) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        url = urljoin(url, location)
                        continue
                    if response.status_code >= 400:
                        raise DocumentError(url, f"HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise DocumentError(url, f"larger than the limit of {limit} bytes")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise DocumentError(url, f"larger than the limit of {limit} bytes")
                        chunks.append(chunk)
                    media_type = response.headers.get("content-type", "").split(";")[0].strip()
                    return _filename(url, response), b"".join(chunks), media_type
            except BlockedAddress as exc:
                raise DocumentError(url, str(exc)) from None
            except (httpx.HTTPError, OSError) as exc:
                raise DocumentError(url, f"fetch failed: {type(exc).__name__}: {exc}") from None
    raise DocumentError(url, f"more than {MAX_REDIRECTS} redirects")
