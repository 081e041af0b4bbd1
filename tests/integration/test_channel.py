"""The task channel against a real nats-server: de-duplication, compare-and-set, resumable events,
competing consumers with heartbeats, redelivery and dead letters."""

import asyncio
import json
import time


from workforce.core.channel import ConsumerLoop, layout
from workforce.core.channel.state import ERASE_MARKER_TTL_S
from workforce.core.task_lifecycle import update_record
from workforce.v1 import channel_pb2, common_pb2


async def test_publish_is_deduplicated_by_msg_id(channel):
    info = await channel.js.stream_info(layout.EVENTS_STREAM)
    before = info.state.messages
    for _ in range(3):
        await channel.emit("tdedupe", "x.happened", msg_id="same-id")
    info = await channel.js.stream_info(layout.EVENTS_STREAM)
    assert info.state.messages == before + 1


async def test_compare_and_set_refuses_a_stale_revision(channel):
    record = common_pb2.TaskRecord(task_id="tcas", status=common_pb2.TASK_STATUS_QUEUED)
    revision = await channel.tasks.create("tcas", record.SerializeToString())
    assert await channel.tasks.create("tcas", b"again") is None
    assert await channel.tasks.update("tcas", b"first", revision) is not None
    assert await channel.tasks.update("tcas", b"second", revision) is None  # lost the race


async def test_concurrent_updates_all_apply(channel):
    await channel.tasks.create("tcount", common_pb2.TaskRecord(task_id="tcount").SerializeToString())

    async def bump(_):
        def change(record):
            record.replans += 1
        await update_record(channel, "tcount", change)

    await asyncio.gather(*[bump(i) for i in range(20)])
    assert (await channel.get_task("tcount")).replans == 20


async def test_terminal_records_never_change(channel):
    done = common_pb2.TaskRecord(task_id="tdone", status=common_pb2.TASK_STATUS_SUCCEEDED, answer="42")
    await channel.tasks.create("tdone", done.SerializeToString())
    assert await update_record(channel, "tdone", lambda r: setattr(r, "answer", "43")) is None
    assert (await channel.get_task("tdone")).answer == "42"


async def test_watch_resumes_from_a_sequence(channel):
    seqs = [await channel.emit("twatch", f"step.{i}") for i in range(4)]
    await channel.emit("twatch", "task.succeeded")
    everything = [e async for e in channel.watch("twatch")]
    assert [e.type for e in everything] == ["step.0", "step.1", "step.2", "step.3", "task.succeeded"]
    tail = [e async for e in channel.watch("twatch", from_seq=seqs[2])]
    assert [e.seq for e in tail] == [e.seq for e in everything[2:]]


async def test_competing_consumers_heartbeats_redelivery_and_dead_letters(channel):
    """Two replicas share one durable consumer; a slow handler that heartbeats keeps its message; a handler
    that keeps failing exhausts max_deliver and the advisory lands in the dead-letter stream."""
    worker_type = "itest"
    seen: dict[str, list[str]] = {}

    async def handler(name, msg):
        item = channel_pb2.WorkItem.FromString(msg.data)
        seen.setdefault(item.attempt_id, []).append(name)
        if item.subtask == "slow":
            await asyncio.sleep(2.5)  # longer than ack_wait (1 s): in_progress() heartbeats keep it
        if item.subtask == "poison":
            raise RuntimeError("always fails")

    stop = asyncio.Event()
    replicas = [
        ConsumerLoop(channel, subject=layout.work_subject(worker_type), durable=layout.pool_consumer(worker_type),
                   stream=layout.WORK_STREAM, config=channel.layout.pool_consumer(worker_type),
                   handler=lambda m, n=name: handler(n, m), concurrency=2, retry_delay_s=0.1)
        for name in ("a", "b")
    ]
    loops = [asyncio.create_task(r.run(stop)) for r in replicas]
    for i, subtask in enumerate(["slow", "quick", "quick", "quick", "poison"]):
        await channel.dispatch(channel_pb2.WorkItem(task_id="titem", subtask_id=str(i), attempt_id=f"titem/{i}/1",
                                                    worker_type=worker_type, subtask=subtask))
    await asyncio.sleep(5)
    stop.set()
    await asyncio.gather(*loops)
    assert seen["titem/0/1"] in (["a"], ["b"])          # heartbeats: never redelivered
    assert {n for k in ("titem/1/1", "titem/2/1", "titem/3/1") for n in seen[k]} <= {"a", "b"}
    assert len(seen["titem/4/1"]) == 2                   # max_deliver = 2
    dead = await channel.js.stream_info(layout.DLQ_STREAM)
    assert dead.state.messages >= 1


async def test_a_control_message_that_keeps_failing_gives_up_after_the_limit(channel):
    """Planner / coordinator messages: after max_attempts failed deliveries the give-up hook ends the work (the
    services fail the task with the reason) and the message is terminated, not redelivered forever."""
    subject, durable = "wf.itest.control", "itest-control"
    await channel.js.add_stream(name="ITEST_CONTROL", subjects=[subject], retention="workqueue")
    deliveries, given_up = [], []

    async def handler(msg):
        deliveries.append(msg.metadata.num_delivered)
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    async def give_up(msg, reason):
        given_up.append(reason)

    stop = asyncio.Event()
    worker = ConsumerLoop(channel, subject=subject, durable=durable, stream="ITEST_CONTROL",
                        config=channel.layout.control_consumer(durable, subject), handler=handler,
                        retry_delay_s=0.05, max_attempts=3, give_up=give_up)
    loop = asyncio.create_task(worker.run(stop))
    await channel.js.publish(subject, b"x")
    for _ in range(100):
        if given_up:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # nothing more arrives: the message was terminated
    stop.set()
    await loop
    assert deliveries == [1, 2, 3]
    assert len(given_up) == 1 and given_up[0].startswith("UnicodeDecodeError")


async def test_keys_lists_only_keys_with_a_value(channel):
    bucket = await channel.bucket("wf-test-keys", history=1)
    assert await bucket.keys() == []
    await bucket.put("gone", b"1")
    await bucket.delete("gone")
    # nats-py's keys() answers "no keys" here; the check against the stream's subjects must agree (the delete
    # marker is a subject with no value)
    assert await bucket.keys() == []
    await bucket.put("live.a", b"1")
    await bucket.put("live.b", b"2")
    assert sorted(await bucket.keys()) == ["live.a", "live.b"]


async def test_an_erased_key_leaves_no_trace_for_the_subject_listing(channel):
    """What the sweeper scans (wf-active): keys erased with a purge marker that expires by itself, listed by the
    stream's subjects in one request; a bucket of finished tasks does not grow."""
    bucket = await channel.bucket("wf-test-erase", history=1, erasable=True)
    for key in ("t1", "t2", "t3"):
        await bucket.put(key, b"1")
    await bucket.erase("t2")
    await bucket.erase("never-there")   # erasing a missing key is no error
    assert await bucket.get("t2") is None
    assert await bucket.get("t1") == await bucket.get("t1") and (await bucket.get("t1")).value == b"1"
    deadline = time.monotonic() + 5 * ERASE_MARKER_TTL_S + 5
    while sorted(await bucket.subject_keys()) != ["t1", "t3"]:
        assert time.monotonic() < deadline, await bucket.subject_keys()
        await asyncio.sleep(0.2)
    info = await channel.js.stream_info("KV_wf-test-erase")
    assert info.state.messages == 2   # the markers are gone too


async def test_a_consumer_loop_keeps_its_slots_full_with_few_pull_requests(channel):
    """At most `concurrency` handlers at once; about one pull request per concurrency/2 messages (not one per
    message); after its open request expires the loop asks again, so a message published later still lands."""
    subject, durable, stream = "wf.itest.pull", "itest-pull", "ITEST_PULL"
    await channel.js.add_stream(name=stream, subjects=[subject], retention="workqueue")
    requests = []

    async def asked(msg):
        requests.append(json.loads(msg.data))

    sub = await channel.nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", cb=asked)
    running, peak, done = 0, 0, []

    async def handler(msg):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        done.append(msg.data)

    stop = asyncio.Event()
    loop = ConsumerLoop(channel, subject=subject, durable=durable, stream=stream,
                        config=channel.layout.control_consumer(durable, subject), handler=handler,
                        concurrency=8, fetch_timeout_s=1.0)
    task = asyncio.create_task(loop.run(stop))
    for i in range(40):
        await channel.js.publish(subject, str(i).encode())
    for _ in range(100):
        if len(done) == 40:
            break
        await asyncio.sleep(0.1)
    assert len(done) == 40 and peak <= 8, (len(done), peak)
    assert all(r["batch"] <= 8 for r in requests)
    assert len(requests) <= 12, requests           # one per message would be 40
    await asyncio.sleep(2.5)                         # the open request expires; the loop sends another
    await channel.js.publish(subject, b"late")
    for _ in range(50):
        if b"late" in done:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await task
    await sub.unsubscribe()
    assert b"late" in done and sorted(done[:40], key=int) == [str(i).encode() for i in range(40)]


async def test_a_dropped_pull_request_is_renewed_and_work_still_flows(channel):
    """A consumer that allows one waiting request, two replicas: the server drops the second's requests without
    an answer; that replica, hearing no heartbeat, asks again after a few heartbeat periods (not in a tight loop),
    and every message is still handled."""
    subject, durable, stream = "wf.itest.refused", "itest-refused", "ITEST_REFUSED"
    await channel.js.add_stream(name=stream, subjects=[subject], retention="workqueue")
    config = channel.layout.control_consumer(durable, subject)
    config.max_waiting = 1
    requests, done = [], []

    async def asked(msg):
        requests.append(msg.data)

    async def handler(msg):
        done.append(msg.data)

    sub = await channel.nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", cb=asked)
    stop = asyncio.Event()
    loops = [ConsumerLoop(channel, subject=subject, durable=durable, stream=stream, config=config, handler=handler,
                          concurrency=2, fetch_timeout_s=2.0) for _ in range(2)]
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    await asyncio.sleep(3)
    assert len(requests) < 10, len(requests)   # about one per replica per 3 heartbeat periods (1.5 s)
    for i in range(10):
        await channel.js.publish(subject, str(i).encode())
    for _ in range(50):
        if len(done) == 10:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks)
    await sub.unsubscribe()
    assert sorted(done, key=int) == [str(i).encode() for i in range(10)]


async def test_reconnect_failures_are_one_line_warnings_not_tracebacks(caplog):
    """During a NATS outage nats-py reports every refused reconnect: a warning each, no traceback; anything else
    stays an error with its traceback."""
    from workforce.core.channel.client import _on_nats_error

    with caplog.at_level("WARNING"):
        await _on_nats_error(ConnectionRefusedError(111, "Connection refused"))
        await _on_nats_error(ValueError("a bug"))
    refused, bug = caplog.records[-2:]
    assert refused.levelname == "WARNING" and "ConnectionRefusedError" in refused.getMessage() and not refused.exc_info
    assert bug.levelname == "ERROR" and bug.exc_info
