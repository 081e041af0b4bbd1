"""Transport faults in front of the real gateway, for the runner's retry tests: a real HTTP reverse proxy
(FastAPI + uvicorn in a thread) that forwards every request to the gateway unchanged, except that it answers
503 to the first `fail_submits` task submissions and cuts the first event stream of each task after
`cut_streams_after` events — the broken connections and overloaded load balancers the gateway itself never
produces. Everything behind it (tasks, events, idempotency) is the real system's."""

import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from workforce.local.nats_server import free_port


class FaultProxy:
    def __init__(self, upstream: str, *, fail_submits: int = 0, cut_streams_after: int = 0):
        self.upstream = upstream.rstrip("/")
        self.fail_submits, self.cut_streams_after = fail_submits, cut_streams_after
        self.refused = 0
        self.cut: set[str] = set()
        self.open_streams = self.max_open_streams = 0  # event streams open at once
        self.port = free_port()
        app = FastAPI()
        app.add_api_route("/{path:path}", self._forward, methods=["GET", "POST"])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, path: str, request: Request):
        if request.method == "POST" and path in ("v1/tasks", "v1/tasks/upload") and self.refused < self.fail_submits:
            self.refused += 1
            return Response('{"error": "overloaded"}', status_code=503, media_type="application/json")
        client = httpx.AsyncClient(base_url=self.upstream, timeout=120)
        upstream = client.build_request(request.method, f"/{path}", params=request.query_params,
                                        content=await request.body(),
                                        headers={k: v for k, v in request.headers.items() if k.lower() != "host"})
        response = await client.send(upstream, stream=True)
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        task = path.split("/")[2] if path.endswith("/events") else ""
        cut = bool(task) and self.cut_streams_after and task not in self.cut

        async def body():
            events = 0
            if task:
                self.open_streams += 1
                self.max_open_streams = max(self.max_open_streams, self.open_streams)
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
                    events += chunk.count(b"data:")
                    if cut and events >= self.cut_streams_after:
                        self.cut.add(task)
                        raise ConnectionResetError("cut by the fault proxy")  # the client sees a broken stream
            finally:
                if task:
                    self.open_streams -= 1
                await response.aclose()
                await client.aclose()

        return StreamingResponse(body(), status_code=response.status_code, headers=headers)

    def start(self) -> "FaultProxy":
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("fault proxy did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
