"""CPU cost of tracing per operation, off and on (`python bench/bench_tracing.py [N]`).

Measures, in one process, what the hot path adds per NATS publish (`tracing.inject`), per handled message (a
consumer span with its parent taken from the message headers) and per LLM call (a client span with attributes),
with tracing off (WF_OTLP_ENDPOINT unset) and on (OTLP/HTTP export to a receiver in another process). CPU time is
the process's (every thread: the batch exporter serializes and posts spans in its own thread).
"""

import json
import os
import subprocess
import sys
import time

from workforce.core import tracing
from workforce.core.config import Settings

RECEIVER = """
import sys, time
sys.path.insert(0, '.')
from tests.support.otlp_receiver import OtlpReceiver
r = OtlpReceiver().start(); print(r.url, flush=True); time.sleep(3600)
"""


def measure(n: int) -> dict:
    headers = {"Content-Type": "application/protobuf", "Nats-Msg-Id": "x", "Wf-Task-Id": "t"}
    attributes = {"messaging.system": "nats", "messaging.destination.name": "wf.work.echo", "wf.task_id": "t"}

    def publish():
        h = dict(headers)
        tracing.inject(h)
        return h

    carrier = None

    def consume():
        with tracing.span("process wf.work.echo", parent=carrier or headers, kind="consumer",
                          attributes=attributes if tracing.enabled() else None):
            pass

    def llm():
        with tracing.span("chat m", kind="client", attributes={"gen_ai.operation.name": "chat"}
                          if tracing.enabled() else None) as span:
            span.set_attributes({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})

    out = {}
    for name, op in (("inject", publish), ("consumer_span", consume), ("llm_span", llm)):
        with tracing.span("parent"):
            carrier = publish()
            started = time.process_time()
            for _ in range(n):
                op()
            out[name] = (time.process_time() - started) / n * 1e6
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    off = measure(n)
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        url = receiver.stdout.readline().strip()
        # Keep every span and export them all at the end: span creation and export are measured apart.
        for key in ("OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
            os.environ.setdefault(key, str(4 * n))
        os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "3600000")
        tracing.setup(Settings(otlp_endpoint=url, service_name="bench"))
        started = time.process_time()
        on = measure(n)
        tracing.shutdown()  # flush: the export thread's serialization and posts are counted below
        total_us = (time.process_time() - started) * 1e6
        export_us = (total_us - n * sum(on.values())) / (2 * n)
    finally:
        receiver.kill()
    print(json.dumps({"n": n, "off_us": {k: round(v, 3) for k, v in off.items()},
                      "on_us": {k: round(v, 2) for k, v in on.items()},
                      "on_export_us_per_span": round(max(0.0, export_us), 2)}, indent=1))


if __name__ == "__main__":
    main()
