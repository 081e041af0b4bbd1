"""httpx under the network guard: every TCP connection is opened to an address the guard accepted, pinned to
that address (the name is resolved and checked once, then the checked IP is dialled), so a name that changes
its answer between a check and the connect (DNS rebinding) is still refused. Used by the web worker's fetcher
and the document tools' fetch by URL."""

import httpcore
import httpx

from .netguard import NetGuard


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the guard accepts, pinned to the address it checked."""

    def __init__(self, guard: NetGuard):
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        errors = []
        for ip in await self.guard.resolve(host, port):
            try:
                return await self.inner.connect_tcp(ip, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                errors.append(f"{ip}: {exc}")
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {'; '.join(errors)}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not reachable through the guard")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: NetGuard):
        super().__init__(trust_env=False)
        # httpx offers no public hook for the network backend; the pool is rebuilt with ours (httpx==0.28.1).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=GuardedBackend(guard),
            max_connections=50, max_keepalive_connections=10,
        )
