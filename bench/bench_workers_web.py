"""worker-web benchmark: pages per second for fetch (httpx through the network guard) and fetch + extract
(trafilatura text + pandas tables), from a local HTTP server, at concurrency 1 and 8; and page opens per second
in the real browser (Chromium through the guard proxy). Writes bench/results/workers_web.json."""

import asyncio
import json
import platform
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from workforce.core.config import Settings
from workforce.workers.tools import ToolContext
from workforce.workers.web.config import WebSettings
from workforce.workers.web.tools import WebTools

PARAGRAPH = ("The city council published its annual report on urban growth, transport and housing. Population "
             "estimates differ between agencies because each one draws the boundary of the metropolitan area in "
             "its own way, and the report explains the method used for every figure in the tables below. ")


def make_page(paragraphs: int = 40, rows: int = 60) -> bytes:
    body = "".join(f"<p>Section {i}. {PARAGRAPH * 2}</p>" for i in range(paragraphs))
    table = "".join(f"<tr><td>{i}</td><td>City {i}</td><td>{1_000_000 + i * 7919:,}</td><td>{1900 + i}</td></tr>"
                    for i in range(rows))
    html = (f"<!DOCTYPE html><html><head><title>Urban report</title></head><body><nav><a href='/'>Home</a>"
            f"</nav><article><h1>Urban report</h1>{body}<table><tr><th>Rank</th><th>City</th><th>Population</th>"
            f"<th>Founded</th></tr>{table}</table>{body[:2000]}</article><footer>© 2024</footer></body></html>")
    return html.encode()


def serve(page: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # headers and body are separate writes: no 40 ms delayed-ACK stall

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def ctx(i: int) -> ToolContext:
    return ToolContext(task_id="bench", subtask_id=str(i), attempt_id=f"bench/{i}/1", worker_type="web",
                       settings=Settings(), workdir=Path("/tmp"))


async def run_case(name: str, op, pages: int, concurrency: int) -> dict:
    latencies: list[float] = []
    queue = list(range(pages))

    async def worker():
        while queue:
            i = queue.pop()
            started = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"case": name, "concurrency": concurrency, "pages": pages, "pages_per_s": round(pages / elapsed, 2),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1)}


async def main() -> None:
    page = make_page()
    server = serve(page)
    url = f"http://127.0.0.1:{server.server_address[1]}/report.html"
    tools = WebTools(Settings(), WebSettings(net_allowlist=f"127.0.0.1:{server.server_address[1]}"))
    results = []
    try:
        async def fetch_only(i):
            fetched = await tools.fetcher.get(f"{url}?p={i}")
            assert len(fetched.body) == len(page)

        async def fetch_extract(i):
            await tools.fetch_page(ctx(i), f"{url}?p={i}")
            full = tools._pages.pop((f"bench/{i}/1", f"{url}?p={i}"))
            assert "Section 39." in full and "| 59 | City 59" in full   # measure real work, not the page cache

        async def browser_open(i):
            c = ctx(i)
            text = await tools.browser_open(c, f"{url}?p={i}")
            assert "Urban report" in text
            await tools.end_subtask(c)   # a fresh context each time, as one subtask has

        await fetch_only(-1)
        await browser_open(-1)           # launches Chromium (not measured)
        for concurrency in (1, 8):
            results.append(await run_case("fetch", fetch_only, 200, concurrency))
            results.append(await run_case("fetch+extract", fetch_extract, 100, concurrency))
        results.append(await run_case("browser_open (new context per page)", browser_open, 10, 1))
    finally:
        await tools.close()
        server.shutdown()

    report = {"benchmark": "workers_web", "page_bytes": len(page), "machine": f"{platform.machine()}, "
              f"{__import__('os').cpu_count()} cores", "results": results}
    print(f"{'case':40} {'conc':>4} {'pages/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(f"{r['case']:40} {r['concurrency']:>4} {r['pages_per_s']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8}")
    out = ROOT / "bench" / "results" / "workers_web.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
