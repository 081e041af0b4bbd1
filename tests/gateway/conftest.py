"""One whole system for the gateway tests, with several identities (API-key names):

- test   the key tests/support/system.py uses to wait for readiness
- alice, bob, carol   ordinary tenants
- ops    an admin identity (WF_ADMIN_IDENTITIES)
- slow   at most 2 tasks in flight;  burst  at most 3 submissions per minute;  fuzz  no quotas
"""

import asyncio

import grpc
import httpx
import nats
import pytest

from tests.support.system import API_KEY, System
from workforce.v1 import common_pb2

KEYS = {"test": API_KEY, "alice": "key-alice", "bob": "key-bob", "carol": "key-carol", "ops": "key-ops",
        "slow": "key-slow", "burst": "key-burst", "fuzz": "key-fuzz"}
ENV = {
    "WF_API_KEYS": ",".join(f"{name}:{key}" for name, key in KEYS.items()),
    "WF_ADMIN_IDENTITIES": "ops",
    "WF_QUOTA_OVERRIDES": "slow=2/0,burst=0/3,fuzz=0/0",
}


@pytest.fixture(scope="package")
def system(tmp_path_factory):
    s = System(tmp_path_factory.mktemp("gateway-system"), workers={"echo": 1}, env=ENV)
    s.start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _fresh_script(request):
    if "system" in request.fixturenames:
        request.getfixturevalue("system").llm.reset()
    yield


class Client:
    """One identity's view of the gateway, over HTTP and gRPC."""

    def __init__(self, system: System, name: str):
        self.name = name
        self.key = KEYS[name]
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{system.http_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {self.key}"})
        self.grpc_channel = grpc.insecure_channel(f"127.0.0.1:{system.grpc_port}")
        self.metadata = (("authorization", f"Bearer {self.key}"),)

    def submit(self, question: str, **fields) -> str:
        response = self.http.post("/v1/tasks", json={"question": question, **fields})
        assert response.status_code == 201, response.text
        return response.json()["task_id"]

    def close(self):
        self.http.close()
        self.grpc_channel.close()


@pytest.fixture(scope="package")
def clients(system):
    made = {name: Client(system, name) for name in KEYS}
    yield made
    for c in made.values():
        c.close()


def stored_record(system: System, task_id: str) -> common_pb2.TaskRecord:
    """The task's record as the services keep it (the KV bucket, read directly), internal fields included."""
    async def read():
        nc = await nats.connect(system.nats.url)
        try:
            entry = await (await nc.jetstream().key_value("wf-tasks")).get(task_id)
            return common_pb2.TaskRecord.FromString(entry.value)
        finally:
            await nc.close()

    return asyncio.run(read())


def gateway_log(system: System) -> str:
    return system.services["gateway"][0].log_path.read_text(errors="replace")


UNHANDLED_MARKERS = ("Traceback (most recent call last)", "Exception in ASGI application",
                     "Task exception was never retrieved", "Unexpected error", "Exception iterating responses")
