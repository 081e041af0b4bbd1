"""LateSignal: a "still working" signal sent only for work that outlasts its delay, never after the outcome."""

import asyncio

from workforce.core.progress import LateSignal


class Sent:
    def __init__(self, takes_s: float = 0.0):
        self.times, self.takes_s = [], takes_s

    async def __call__(self):
        await asyncio.sleep(self.takes_s)
        self.times.append(asyncio.get_running_loop().time())


async def test_quick_work_sends_nothing():
    sent = Sent()
    signal = await LateSignal(0.2, sent).start()
    await asyncio.sleep(0.05)
    await signal.settle()
    await asyncio.sleep(0.3)
    assert sent.times == []


async def test_slow_work_sends_once_after_the_delay():
    sent = Sent()
    started = asyncio.get_running_loop().time()
    signal = await LateSignal(0.1, sent).start()
    await asyncio.sleep(0.3)
    await signal.settle()
    assert len(sent.times) == 1 and sent.times[0] - started >= 0.1


async def test_a_signal_being_sent_is_finished_before_settle_returns():
    sent = Sent(takes_s=0.2)   # the send is still in flight when the work ends
    signal = await LateSignal(0.05, sent).start()
    await asyncio.sleep(0.1)
    await signal.settle()
    assert len(sent.times) == 1   # landed before the outcome would be published


async def test_delay_zero_sends_at_start():
    sent = Sent()
    await LateSignal(0, sent).start()
    assert len(sent.times) == 1


async def test_a_failing_send_does_not_fail_the_work():
    async def broken():
        raise ConnectionError("NATS is away")

    signal = await LateSignal(0.01, broken).start()
    await asyncio.sleep(0.05)
    await signal.settle()


async def test_now_sends_at_once_and_only_once():
    sent = Sent()
    signal = await LateSignal(10, sent).start()
    await signal.now()          # the work says something before the delay: its start goes first
    await signal.now()
    await signal.settle()
    assert len(sent.times) == 1


async def test_now_waits_for_a_signal_being_sent():
    sent = Sent(takes_s=0.2)
    signal = await LateSignal(0.05, sent).start()
    await asyncio.sleep(0.1)    # being sent now
    await signal.now()
    assert len(sent.times) == 1  # landed before whatever follows
