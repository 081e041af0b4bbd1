"""The orchestration benchmark's measuring parts: nats-server's message counters, the kernel's CPU accounting,
the case selection and the peer comparison (bench/)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from bench.bench_orchestration import parse_selection
from bench.nats_stats import message_counts, per_task
from bench.peer_case import ratios, venv_problem
from bench.proc_cpu import CpuSampler, cpu_seconds


async def test_message_counts_follow_what_the_server_carries(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.subscribe("bench.test")
        await nc.flush()
        before = message_counts(nats_server.monitor_port)
        for _ in range(20):
            await nc.publish("bench.test", b"x")
        received = [await sub.next_msg(timeout=5) for _ in range(20)]
        after = message_counts(nats_server.monitor_port)
    finally:
        await nc.close()
    assert len(received) == 20
    assert after["in"] - before["in"] >= 20 and after["out"] - before["out"] >= 20
    assert per_task({"in": 0, "out": 0}, {"in": 30, "out": 50}, 10) == {"in": 3.0, "in_out": 8.0}


def test_cpu_seconds_count_a_busy_process_and_keep_a_dead_ones_last_value():
    spin = "import time\nwhile time.process_time() < 0.4: pass\ntime.sleep(30)"
    busy = subprocess.Popen([sys.executable, "-c", spin])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = CpuSampler({"busy": [busy.pid], "idle": [idle.pid]})
        deadline = time.monotonic() + 20  # the machine may be busy: wait for the 0.4 s of CPU, not a fixed time
        while (last := sampler.sample())["busy"] < 0.35 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert last["busy"] >= 0.35  # clock ticks: 10 ms steps
        assert last["idle"] < 0.2  # the interpreter's start only
    finally:
        busy.kill(), idle.kill()
        busy.wait(), idle.wait()
    assert cpu_seconds(busy.pid) is None
    assert sampler.sample() == last  # gone: the last values stand
    assert CpuSampler.delta(last, last) == {"busy": 0.0, "idle": 0.0}
    assert cpu_seconds(os.getpid()) > 0


def test_case_selection():
    assert parse_selection("0x1,200x100x50,recovery-coordinator") == ([(0, 1, 30), (200, 100, 50)], ["coordinator"])
    for bad in ("0x1x", "fast", "recovery-gateway", "10x0x5"):
        with pytest.raises(SystemExit):
            parse_selection(bad)


def test_peer_comparison():
    ours = {"tasks_per_s": 20.0, "p50_overhead_ms_per_subtask": 5.0}
    assert ratios(ours, {"tasks_per_s": 5.0, "p50_overhead_ms_per_subtask": 10.0}) == \
        {"throughput_ratio": 4.0, "overhead_ratio": 0.5}
    assert ratios(ours, {"error": "timed out"}) == {}
    problem = venv_problem(Path("/nonexistent/camel-venv"))
    assert "bench/setup_camel_venv.sh" in problem
