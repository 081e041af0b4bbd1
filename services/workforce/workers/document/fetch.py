"""Fetch a document by URL: http(s) only, size and time limits, no private / loopback / link-local / metadata
addresses (checked after DNS resolution and on every redirect) unless the host is in
WF_DOC_FETCH_ALLOW_HOSTS."""

import asyncio
import ipaddress
import socket
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .config import DocumentSettings
from .model import DocumentError

MAX_REDIRECTS = 5


async def _check_address(url: str, allow: set[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DocumentError(url, "only http(s) URLs can be fetched")
    host = parts.hostname.lower()
    if host in allow:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DocumentError(url, f"the host does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise DocumentError(url, f"refused: {host} resolves to a non-public address ({address})")


def _filename(url: str, response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition", "")
    if "filename=" in disposition:
        name = disposition.split("filename=", 1)[1].split(";")[0].strip().strip('"')
        if name:
            return PurePosixPath(name).name
    return PurePosixPath(unquote(urlsplit(url).path)).name or urlsplit(url).hostname or "download"


async def fetch_document(url: str, settings: DocumentSettings) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the document at `url`."""
    allow = {h.strip().lower() for h in settings.doc_fetch_allow_hosts.split(",") if h.strip()}
    limit = settings.doc_max_bytes
    async with httpx.AsyncClient(
        follow_redirects=False,
        timeout=settings.doc_fetch_timeout_s,
        headers={"User-Agent": "workforce-document/1.0"},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_address(url, allow)
            try:
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code >= 400:
                        raise DocumentError(url, f"HTTP {response.status_code}")
                    if int(response.headers.get("content-length") or 0) > limit:
                        raise DocumentError(url, f"larger than the limit of {limit} bytes")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise DocumentError(url, f"larger than the limit of {limit} bytes")
                        chunks.append(chunk)
                    media_type = response.headers.get("content-type", "").split(";")[0].strip()
                    return _filename(url, response), b"".join(chunks), media_type
            except httpx.HTTPError as exc:
                raise DocumentError(url, f"fetch failed: {type(exc).__name__}: {exc}") from exc
    raise DocumentError(url, f"more than {MAX_REDIRECTS} redirects")
