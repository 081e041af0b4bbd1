"""A forward proxy that applies the network guard to every connection the browser opens.

Playwright's request routing does not see the requests a redirect leads to (by design: interception sits
before the network stack), so routing alone cannot refuse `302 → http://169.254.169.254/`. The browser is
therefore pointed at this proxy: plain-HTTP requests (absolute-form, parsed with h11) and CONNECT tunnels
(HTTPS, WebSockets) are checked and connected to the checked address; a refusal is a 403 whose body says why.
One proxy per browser context, so the refusals it records belong to that context's subtask.
"""

import asyncio
import contextlib
import errno
import logging

import h11

from ..netguard import BlockedAddress, NetGuard, url_target

log = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024
HOP_HEADERS = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te", b"trailer",
               b"upgrade"}
BLOCK_HEADER = "X-Workforce-Guard"


class GuardProxy:
    def __init__(self, guard: NetGuard, max_bytes: int, connect_timeout_s: float = 10.0, idle_timeout_s: float = 60.0,
                 bind_host: str = "127.0.0.1", advertise_host: str = "", ports: range | None = None):
        self.guard = guard
        self.bind_host = bind_host
        self.advertise_host = advertise_host or bind_host
        self.ports = ports
        self.max_bytes = max_bytes
        self.connect_timeout_s = connect_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.refused: list[str] = []          # why each refused connection was refused, in order
        self.server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        host = f"[{self.advertise_host}]" if ":" in self.advertise_host else self.advertise_host
        return f"http://{host}:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> "GuardProxy":
        """Listen on a free port (of `ports`, when given: a remote browser's NetworkPolicy names them)."""
        for port in self.ports or (0,):
            try:
                self.server = await asyncio.start_server(self._serve, self.bind_host, port, limit=HEAD_LIMIT)
                return self
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, f"every guard proxy port {self.ports.start}-{self.ports.stop - 1} is in use")

    async def close(self) -> None:
        if self.server:
            self.server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            pass
        except Exception:  # a proxy bug must not take the worker down
            log.exception("guard proxy error")
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader, writer) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout_s)
        parser = h11.Connection(h11.SERVER)
        parser.receive_data(head)
        try:
            request = parser.next_event()
        except h11.RemoteProtocolError as exc:
            return await self._reply(writer, 400, f"bad proxy request: {exc}")
        if not isinstance(request, h11.Request):
            return await self._reply(writer, 400, "bad proxy request")
        method, target = request.method.decode(), request.target.decode("latin-1")
        try:
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                host, port, label = host.strip("[]"), int(port), target
            else:
                host, port = url_target(target)
                label = target[:300]
            ips = await self.guard.resolve(host, port)
        except BlockedAddress as exc:
            self.refused.append(str(exc))
            return await self._reply(writer, 403, str(exc), blocked=True)
        except (OSError, ValueError) as exc:
            return await self._reply(writer, 502, f"cannot reach {label}: {exc}")
        upstream = await self._connect(ips, port)
        if upstream is None:
            return await self._reply(writer, 502, f"cannot connect to {label}")
        up_reader, up_writer = upstream
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(_origin_form(request))
            await self._pipe(reader, writer, up_reader, up_writer)
        finally:
            with contextlib.suppress(Exception):
                up_writer.close()

    async def _connect(self, ips: list[str], port: int):
        for ip in ips:
            try:
                return await asyncio.wait_for(asyncio.open_connection(ip, port), self.connect_timeout_s)
            except (OSError, TimeoutError):
                continue
        return None

    async def _pipe(self, reader, writer, up_reader, up_writer) -> None:
        async def copy(src, dst, limit):
            sent = 0
            while data := await asyncio.wait_for(src.read(65536), self.idle_timeout_s):
                sent += len(data)
                if limit and sent > limit:
                    self.refused.append(f"a response was cut off after the limit of {limit} bytes")
                    return
                dst.write(data)
                await dst.drain()

        tasks = [asyncio.create_task(copy(reader, up_writer, 0)),
                 asyncio.create_task(copy(up_reader, writer, self.max_bytes))]
        try:
            # either side closing ends the exchange (plain requests go upstream with Connection: close)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.exception()   # retrieved, so a closed socket is not logged as "never retrieved"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _reply(self, writer, status: int, message: str, blocked: bool = False) -> None:
        body = message.encode()
        reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
        extra = f"{BLOCK_HEADER}: blocked\r\n" if blocked else ""
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def _origin_form(request: h11.Request) -> bytes:
    """The request as the origin server expects it: path-only target, no hop-by-hop headers, one request only."""
    target = request.target
    if b"://" in target:
        rest = target.split(b"://", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    lines = [request.method + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in request.headers.raw_items() if name.lower() not in HOP_HEADERS]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"
