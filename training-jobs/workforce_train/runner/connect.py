"""The gateway client for a URL and protocol: HTTP (httpx, SSE) or gRPC. Each transport is imported only
when chosen, so a runner without grpcio (or without httpx-sse) still works over the other."""

from .gateway import Gateway


def make_gateway(url: str, *, api_key: str = "", protocol: str = "http", timeout_s: float = 60.0) -> Gateway:
    """url: http(s)://host:port for HTTP, host:port for gRPC."""
    if protocol == "http":
        from .gateway_http import HttpGateway

        return HttpGateway(url, api_key=api_key, timeout_s=timeout_s)
    if protocol == "grpc":
        from .gateway_grpc import GrpcGateway

        return GrpcGateway(url, api_key=api_key, timeout_s=timeout_s)
    raise ValueError(f"unknown protocol {protocol!r}: expected http or grpc")
