"""The channel's identities against a real nats-server configured as local mode configures it: each service
connects as its own user; a worker does its job (consumes its pool, reads and stores files, publishes results
and events, keeps its registry entry) and is refused everywhere else: task records included (a work item carries
what the worker needs of its task)."""

import asyncio

import nats
import pytest
from nats.js.api import ConsumerConfig

from workforce.core.channel import connect, identities, layout
from workforce.core.channel.state import KVStore
from workforce.core.config import Settings
from workforce.local import nats_auth
from workforce.local.nats_server import NatsServer
from workforce.v1 import channel_pb2, common_pb2


@pytest.fixture(scope="module")
def passwords():
    return nats_auth.make_passwords()


@pytest.fixture(scope="module")
def server(tmp_path_factory, passwords):
    store = tmp_path_factory.mktemp("nats-auth")
    config = nats_auth.write_config(store / "nats.conf", passwords)
    assert (config.stat().st_mode & 0o777) == 0o600
    server = NatsServer(store_dir=str(store), config=str(config)).start()
    yield server
    server.stop()


def _settings(server, service: str, passwords, **extra) -> Settings:
    env = nats_auth.service_env(service, passwords)
    return Settings(nats_url=server.url, service_name=service, nats_user=env["WF_NATS_USER"],
                    nats_password=env["WF_NATS_PASSWORD"], instance_id=f"{service}-1", **extra)


class Refusals:
    """A raw connection as one user, recording the server's permission errors."""

    def __init__(self):
        self.errors: list[str] = []
        self.nc = None

    async def connect(self, server, user: str, password: str):
        async def on_error(exc):
            self.errors.append(str(exc))

        self.nc = await nats.connect(server.url, user=user, password=password, error_cb=on_error,
                                     inbox_prefix=identities.inbox_prefix(user), max_reconnect_attempts=0)
        return self

    async def refused_request(self, subject: str, payload: bytes = b"") -> bool:
        before = len(self.errors)
        try:
            await self.nc.request(subject, payload, timeout=1.5)
        except nats.errors.TimeoutError:
            pass
        else:
            return False
        await asyncio.sleep(0.05)
        return any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in self.errors[before:])

    async def refused_subscription(self, subject: str) -> bool:
        before = len(self.errors)
        sub = await self.nc.subscribe(subject)
        await self.nc.flush()
        for _ in range(40):
            if any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in self.errors[before:]):
                await sub.unsubscribe()
                return True
            await asyncio.sleep(0.05)
        await sub.unsubscribe()
        return False


async def test_a_worker_does_its_job_and_nothing_else(server, passwords):
    # the control plane sets the channel up (it may), and puts a task, a plan and a work item on it
    gateway = await connect(_settings(server, "gateway", passwords))
    coordinator = await connect(_settings(server, "coordinator", passwords))
    record = common_pb2.TaskRecord(task_id="t-ids", question="q")
    await gateway.tasks.put("t-ids", record.SerializeToString())
    await coordinator.plans.put("t-ids", b"the plan")
    await gateway.files.put("t-ids/in/a.txt", b"attached")
    item = channel_pb2.WorkItem(task_id="t-ids", subtask_id="1", attempt_id="t-ids/1/1", worker_type="code",
                                subtask="compute")
    await coordinator.dispatch(item)
    await coordinator.dispatch(channel_pb2.WorkItem(task_id="t-ids", subtask_id="2", attempt_id="t-ids/2/1",
                                                    worker_type="web", subtask="browse"))

    # the code worker: binds without creating anything, consumes its pool, reads, writes, reports
    worker = await connect(_settings(server, "worker-code", passwords, ack_wait_s=5))
    assert worker.tasks is None and worker.plans is None and worker.idempotency is None and worker.active is None
    sub = await worker.pull(layout.work_subject("code"), layout.pool_consumer("code"), layout.WORK_STREAM,
                            worker.layout.pool_consumer("code"))
    (msg,) = await sub.fetch(1, timeout=5)
    assert channel_pb2.WorkItem.FromString(msg.data).attempt_id == "t-ids/1/1"
    await msg.in_progress()
    assert (await worker.files.get("t-ids/in/a.txt")).data == b"attached"
    await worker.files.put("t-ids/out/1/b.txt", b"produced")
    await worker.workers.put("code.worker-code-1", b"info")
    await worker.emit("t-ids", "subtask.started", "working", subtask_id="1")
    await worker.to_coordinator(channel_pb2.CoordinatorMessage(
        task_id="t-ids", result=channel_pb2.SubtaskResult(task_id="t-ids", subtask_id="1", attempt_id="t-ids/1/1",
                                                          content="done")), msg_id="result:t-ids/1/1")
    await msg.ack()
    assert [e.type for e in await gateway.events("t-ids")] == ["subtask.started"]
    # a tool call held for approval: the worker writes its request, watches the decision a person's gateway
    # writes, and may write the timeout decision of a tool call (never a plan's)
    approvals = KVStore(await worker.js.key_value(layout.APPROVALS_BUCKET))
    assert await approvals.create(layout.tool_request_key("t-ids", "1.1.1.abc"), b"asked") is not None
    watcher = await approvals.kv.watch(layout.tool_decision_key("t-ids", "1.1.1.abc"))
    assert await watcher.updates(timeout=5) is None
    await gateway.approvals.create(layout.tool_decision_key("t-ids", "1.1.1.abc"), b"approved")
    assert (await watcher.updates(timeout=5)).value == b"approved"
    await watcher.stop()
    assert await approvals.create(layout.tool_decision_key("t-ids", "1.1.2.abc"), b"timeout") is not None

    # … and is refused wherever it does not belong
    raw = await Refusals().connect(server, "worker-code", passwords["worker-code"])
    forbidden = (
        f"$JS.API.STREAM.PURGE.{layout.WORK_STREAM}",                  # purge streams
        f"$JS.API.STREAM.PURGE.{identities.obj_stream(layout.FILES_BUCKET)}",
        f"$JS.API.STREAM.DELETE.{layout.EVENTS_STREAM}",               # delete them
        "$JS.API.STREAM.CREATE.WF_EVIL",                               # create streams
        f"$JS.API.STREAM.UPDATE.{layout.WORK_STREAM}",
        f"$JS.API.STREAM.MSG.GET.{identities.kv_stream(layout.TASKS_BUCKET)}",   # task records (any tenant's)
        f"$JS.API.DIRECT.GET.{identities.kv_stream(layout.TASKS_BUCKET)}.$KV.{layout.TASKS_BUCKET}.t-ids",
        f"$JS.API.STREAM.INFO.{identities.kv_stream(layout.TASKS_BUCKET)}",
        f"$JS.API.CONSUMER.CREATE.{identities.kv_stream(layout.TASKS_BUCKET)}",   # watch them
        f"$JS.API.STREAM.MSG.GET.{identities.kv_stream(layout.PLANS_BUCKET)}",   # other buckets
        f"$JS.API.DIRECT.GET.{identities.kv_stream(layout.PLANS_BUCKET)}.$KV.{layout.PLANS_BUCKET}.t-ids",
        f"$JS.API.DIRECT.GET.{identities.kv_stream(layout.IDEMPOTENCY_BUCKET)}",
        f"$JS.API.STREAM.INFO.{identities.kv_stream(layout.ACTIVE_BUCKET)}",
        f"$JS.API.CONSUMER.MSG.NEXT.{layout.WORK_STREAM}.{layout.pool_consumer('web')}",  # another pool
        f"$JS.API.CONSUMER.CREATE.{layout.WORK_STREAM}.{layout.pool_consumer('code')}.wf.work.web",
        f"$JS.API.CONSUMER.CREATE.{layout.WORK_STREAM}.mine",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{layout.WORK_STREAM}.{layout.pool_consumer('code')}",
        f"$JS.API.CONSUMER.DELETE.{layout.WORK_STREAM}.{layout.pool_consumer('web')}",
        layout.work_subject("web"),                                    # dispatch or forge work
        layout.PLANNER_SUBJECT,
        f"$KV.{layout.TASKS_BUCKET}.t-ids",                            # rewrite a task record
        f"$KV.{layout.PLANS_BUCKET}.t-ids",
        f"$KV.{layout.APPROVALS_BUCKET}.{layout.approval_key('t-ids', 0)}",  # decide on a plan
        f"$KV.{layout.WORKERS_BUCKET}.web.impostor",                   # register as another pool
        layout.cancel_subject("t-ids"),                                # cancel tasks
        "$SYS.REQ.SERVER.PING",
    )
    refused = await asyncio.gather(*(raw.refused_request(subject) for subject in forbidden))
    assert all(refused), [s for s, r in zip(forbidden, refused) if not r]
    for subject in ("_INBOX.>", f"{identities.inbox_prefix('gateway')}.>", f"{layout.EVENTS_PREFIX}.>",
                    f"{layout.WORK_PREFIX}.>", f"$KV.{layout.PLANS_BUCKET}.>", ">"):
        assert await raw.refused_subscription(subject), f"worker-code could subscribe to {subject}"
    # the client library's own way to the tasks bucket is refused too
    with pytest.raises(Exception):
        await (await worker.js.key_value(layout.TASKS_BUCKET)).get("t-ids")
    # the plan and the web pool's item are untouched
    assert (await coordinator.plans.get("t-ids")).value == b"the plan"
    info = await coordinator.js.stream_info(layout.WORK_STREAM)
    assert info.state.messages == 1
    await raw.nc.close()
    for ch in (worker, coordinator, gateway):
        await ch.close()


async def test_the_control_plane_cannot_delete_or_purge_either(server, passwords):
    raw = await Refusals().connect(server, "gateway", passwords["gateway"])
    forbidden = (f"$JS.API.STREAM.PURGE.{layout.EVENTS_STREAM}", f"$JS.API.STREAM.DELETE.{layout.WORK_STREAM}",
                 f"$JS.API.STREAM.MSG.DELETE.{identities.kv_stream(layout.TASKS_BUCKET)}", "$SYS.REQ.SERVER.PING")
    assert all(await asyncio.gather(*(raw.refused_request(subject) for subject in forbidden)))
    assert await raw.refused_subscription(f"{identities.inbox_prefix('worker-code')}.>")
    await raw.nc.close()


async def test_wrong_or_missing_credentials_are_refused(server, passwords):
    for user, password in (("worker-code", "wrong"), ("nobody", passwords["worker-code"]), (None, None)):
        with pytest.raises(Exception) as error:
            await nats.connect(server.url, user=user, password=password, max_reconnect_attempts=0,
                               allow_reconnect=False, connect_timeout=2)
        assert "Authorization" in type(error.value).__name__ or "authorization" in str(error.value).lower()


async def test_another_workers_credentials_cannot_take_this_pools_work(server, passwords):
    coordinator = await connect(_settings(server, "coordinator", passwords))
    web = await connect(_settings(server, "worker-web", passwords))
    sub = await web.pull(layout.work_subject("web"), layout.pool_consumer("web"), layout.WORK_STREAM,
                         web.layout.pool_consumer("web"))
    (msg,) = await sub.fetch(1, timeout=5)  # the web item left by the first test: its own pool works
    assert channel_pb2.WorkItem.FromString(msg.data).worker_type == "web"
    await msg.ack()
    with pytest.raises(Exception):
        await web.js.pull_subscribe(layout.work_subject("code"), durable=layout.pool_consumer("code"),
                                    stream=layout.WORK_STREAM,
                                    config=ConsumerConfig(ack_wait=5))
    for ch in (web, coordinator):
        await ch.close()
