"""Retention: the configured TTLs land on the buckets and streams (also ones made before the setting changed),
and idempotency keys expire after WF_IDEMPOTENCY_TTL_S."""

import asyncio
import time

import nats
import pytest

from tests.support.system import System

pytestmark = pytest.mark.e2e

TTLS = {"WF_TASK_TTL_S": "7200", "WF_PLAN_TTL_S": "5400", "WF_FILE_TTL_S": "3600", "WF_EVENT_MAX_AGE_S": "1800",
        "WF_IDEMPOTENCY_TTL_S": "2"}


@pytest.fixture(scope="module")
def retention_system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("retention"), workers={"echo": 1}, env=TTLS)
    s.start()
    yield s
    s.stop()


def max_ages(url: str) -> dict[str, float]:
    async def read():
        nc = await nats.connect(url)
        js = nc.jetstream()
        out = {}
        for name in ("KV_wf-tasks", "KV_wf-plans", "OBJ_wf-files", "WF_EVENTS", "WF_TASK_INDEX", "KV_wf-idempotency",
                     "KV_wf-quota-inflight", "KV_wf-quota-rate"):
            out[name] = (await js.stream_info(name)).config.max_age
        await nc.close()
        return out

    return asyncio.run(read())


def test_ttls_are_applied_to_buckets_and_streams(retention_system):
    ages = max_ages(retention_system.nats.url)
    assert ages["KV_wf-tasks"] == 7200 and ages["WF_TASK_INDEX"] == 7200
    assert ages["KV_wf-plans"] == 5400
    assert ages["OBJ_wf-files"] == 3600
    assert ages["WF_EVENTS"] == 1800
    assert ages["KV_wf-idempotency"] == 2
    assert ages["KV_wf-quota-rate"] == 180 and ages["KV_wf-quota-inflight"] > 7 * 24 * 3600


def test_changed_ttls_apply_to_existing_buckets(retention_system):
    system = retention_system
    # Another replica (here: a second gateway) started with new settings updates the existing buckets.
    from workforce.local.nats_server import free_port

    extra = system.start_service("gateway", WF_TASK_TTL_S="10800", WF_FILE_TTL_S="0", WF_HTTP_PORT=free_port(),
                                 WF_GRPC_PORT=free_port())
    deadline = time.time() + 30
    while time.time() < deadline:
        ages = max_ages(system.nats.url)
        if ages["KV_wf-tasks"] == 10800 and ages["OBJ_wf-files"] == 0:
            break
        time.sleep(0.3)
    assert ages["KV_wf-tasks"] == 10800 and ages["WF_TASK_INDEX"] == 10800
    assert ages["OBJ_wf-files"] == 0            # 0 = keep forever
    extra.stop()


def test_idempotency_keys_expire(retention_system):
    http = retention_system.http
    first = http.post("/v1/tasks", json={"question": "keyed", "idempotency_key": "expiring"})
    again = http.post("/v1/tasks", json={"question": "keyed", "idempotency_key": "expiring"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["task_id"] == again.json()["task_id"]
    time.sleep(3.5)   # WF_IDEMPOTENCY_TTL_S=2 (NATS removes expired entries about once a second)
    later = http.post("/v1/tasks", json={"question": "keyed", "idempotency_key": "expiring"})
    assert later.status_code == 201 and later.json()["task_id"] != first.json()["task_id"]
