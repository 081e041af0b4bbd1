import pytest

from workforce.core.channel import connect
from workforce.core.config import Settings
from workforce.local.nats_server import NatsServer


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory):
    server = NatsServer(store_dir=str(tmp_path_factory.mktemp("nats"))).start()
    yield server
    server.stop()


@pytest.fixture()
async def channel(nats_server):
    settings = Settings(nats_url=nats_server.url, ack_wait_s=1.0, max_deliver=2, instance_id="test")
    ch = await connect(settings)
    yield ch
    await ch.close()
