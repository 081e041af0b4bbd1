"""The Internet Archive's Wayback Machine: the snapshot closest to a date (availability API) and the list of
snapshots of a URL (CDX server API). Endpoints: WF_WEB_WAYBACK_AVAILABLE_URL, WF_WEB_WAYBACK_CDX_URL."""

import re

import httpx

CDX_FIELDS = ["timestamp", "original", "statuscode", "mimetype", "length"]


class ArchiveError(Exception):
    pass


def wayback_timestamp(date: str) -> str:
    """'2020-03-15' / '2020-03' / '20200315' → '20200315' (Wayback timestamps are prefixes of YYYYMMDDhhmmss)."""
    digits = re.sub(r"[^0-9]", "", date)
    if date.strip() and (not digits or len(digits) > 14 or len(digits) < 4):
        raise ArchiveError(f"not a date: {date!r} (use YYYY-MM-DD)")
    return digits


def raw_snapshot_url(url: str) -> str:
    """The snapshot as archived, without the Wayback toolbar: /web/<ts>/<url> → /web/<ts>id_/<url>."""
    return re.sub(r"/web/(\d{1,14})/", r"/web/\1id_/", url, count=1)


class WebArchive:
    def __init__(self, available_url: str, cdx_url: str, web_url: str, client: httpx.AsyncClient):
        self.available_url = available_url
        self.cdx_url = cdx_url
        self.web_url = web_url.rstrip("/")
        self.client = client

    async def closest(self, url: str, date: str = "") -> dict | None:
        """The snapshot of `url` closest to `date` (the latest when no date): {url, timestamp, status} or None."""
        params = {"url": url}
        if date:
            params["timestamp"] = wayback_timestamp(date)
        response = await self.client.get(self.available_url, params=params)
        if response.status_code != 200:
            raise ArchiveError(f"Wayback availability API: HTTP {response.status_code}: {response.text[:200]}")
        closest = (response.json().get("archived_snapshots") or {}).get("closest")
        if not closest or not closest.get("available", True):
            return None
        return {"url": closest["url"], "timestamp": closest["timestamp"], "status": closest.get("status", "")}

    async def history(self, url: str, since: str = "", until: str = "", limit: int = 20) -> list[dict]:
        """Snapshots of `url` between two dates (successful captures only, one per day at most)."""
        params = {"url": url, "output": "json", "fl": ",".join(CDX_FIELDS), "limit": str(limit),
                  "filter": "statuscode:200", "collapse": "timestamp:8"}
        if since:
            params["from"] = wayback_timestamp(since)
        if until:
            params["to"] = wayback_timestamp(until)
        response = await self.client.get(self.cdx_url, params=params)
        if response.status_code != 200:
            raise ArchiveError(f"Wayback CDX API: HTTP {response.status_code}: {response.text[:200]}")
        rows = response.json() if response.content.strip() else []
        if not rows:
            return []
        header, snapshots = rows[0], []
        for row in rows[1:]:
            item = dict(zip(header, row))
            item["url"] = f"{self.web_url}/{item['timestamp']}/{item['original']}"
            snapshots.append(item)
        return snapshots
