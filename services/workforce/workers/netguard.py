"""The network guard of every fetching component (web pages, the browser's proxy, documents by URL):
model-chosen URLs may not reach private, loopback, link-local or metadata addresses.

Every host is resolved and *every* address it resolves to is checked (a name with one public and one private
record is refused); callers check again on each redirect hop and when a connection is opened (guarded_http.py
pins the connection to the checked address, so DNS rebinding between check and connect does not help).

The allowlist (WF_WEB_NET_ALLOWLIST for the web worker, WF_DOC_FETCH_ALLOW_HOSTS for the document tools) lets a deployment reach chosen internal services. Entries, comma or space
separated:
    10.1.0.0/16            any port of the addresses in a network (a bare IP is a /32 or /128)
    10.1.2.3:8080          one address and port; IPv6 as [fd00::1]:8080
    intranet.local:443     a host name as written in the URL and a port
    intranet.local         that host name, any port
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from prometheus_client import Counter

REFUSALS = Counter("workforce_web_guard_refusals_total",
                   "URLs and connections refused by the workers' network guard (web and document fetches)",
                   ["reason"])

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services, named in refusals because they are the classic SSRF target.
METADATA = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.123", "100.100.100.200", "192.0.0.192", "fd00:ec2::254",
)}
ALLOWED_SCHEMES = ("http", "https")


class BlockedAddress(Exception):
    """A URL the guard refuses to reach; the message says why."""


@dataclass(frozen=True)
class AllowRule:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    host: str | None = None
    port: int | None = None

    def matches(self, host: str, port: int, ip: IPAddress) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip in self.network
        return self.host == host.lower().rstrip(".")


def parse_allowlist(text: str, setting: str = "WF_WEB_NET_ALLOWLIST") -> list[AllowRule]:
    rules = []
    for entry in text.replace(",", " ").split():
        try:
            rules.append(_parse_entry(entry))
        except ValueError as exc:
            raise ValueError(f"bad {setting} entry {entry!r}: {exc}") from None
    return rules


def _parse_entry(entry: str) -> AllowRule:
    if "/" in entry:
        return AllowRule(network=ipaddress.ip_network(entry, strict=False))
    if entry.startswith("["):                       # [v6] or [v6]:port
        addr, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
        return AllowRule(network=ipaddress.ip_network(addr), port=port)
    try:
        return AllowRule(network=ipaddress.ip_network(entry))    # bare IPv4 or IPv6
    except ValueError:
        pass
    host, sep, port = entry.rpartition(":")
    if not sep:
        host, port = entry, ""
    if not host:
        raise ValueError("empty host")
    try:
        return AllowRule(network=ipaddress.ip_network(host), port=int(port) if port else None)
    except ValueError:
        return AllowRule(host=host.lower().rstrip("."), port=int(port) if port else None)


def block_reason(ip: IPAddress) -> str | None:
    """Why an address may not be reached, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if mapped is not None:
            reason = block_reason(mapped)
            return f"{reason} (embedded in {ip})" if reason else None
    if ip in METADATA:
        return "a cloud metadata address"
    for attribute, reason in (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
        ("is_private", "a private address"), ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "a non-global address (not publicly routable)"
    return None


def url_target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; BlockedAddress for other schemes or a URL without a host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        REFUSALS.labels("scheme").inc()
        raise BlockedAddress(f"refused {url[:200]!r}: only http and https URLs may be fetched")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedAddress(f"refused {url[:200]!r}: {exc}") from None
    if not parts.hostname:
        raise BlockedAddress(f"refused {url[:200]!r}: no host")
    return parts.hostname, port


class NetGuard:
    def __init__(self, allowlist: str | list[AllowRule] = "", setting: str = "WF_WEB_NET_ALLOWLIST"):
        self.rules = parse_allowlist(allowlist, setting) if isinstance(allowlist, str) else list(allowlist)

    def allowed(self, host: str, port: int, ip: IPAddress) -> bool:
        return any(rule.matches(host, port, ip) for rule in self.rules)

    def check_ip(self, host: str, port: int, ip: IPAddress) -> None:
        reason = block_reason(ip)
        if reason and not self.allowed(host, port, ip):
            REFUSALS.labels(reason.split(" address")[0].split()[-1]).inc()   # loopback, private, metadata, …
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise BlockedAddress(f"refused {shown}:{port}: {ip} is {reason}")

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses, each checked; BlockedAddress when any of them is refused."""
        host = host.strip("[]")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
            addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise OSError(f"cannot resolve {host}: no addresses")
        for ip in addresses:
            self.check_ip(host, port, ip)
        return [str(ip) for ip in addresses]

    async def check_url(self, url: str) -> list[str]:
        host, port = url_target(url)
        return await self.resolve(host, port)
