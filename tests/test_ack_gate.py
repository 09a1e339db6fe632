"""Work after an ack waits while other requests wait for theirs, and never longer than its cap."""

from __future__ import annotations

import asyncio
import time

from bot.slack.ack_gate import AckGate


async def test_work_waits_for_the_acks_in_flight() -> None:
    gate = AckGate(max_wait_s=5.0)
    order: list[str] = []

    async def request(name: str, ack_after_s: float) -> None:
        with gate.acking():
            await asyncio.sleep(ack_after_s)
            order.append(f"ack {name}")

    async def work() -> None:
        await asyncio.sleep(0.01)  # its own request is acked; two others are not yet
        await gate.after_acks()
        order.append("work")

    await asyncio.gather(request("a", 0.005), request("b", 0.05), request("c", 0.1), work())
    assert order == ["ack a", "ack b", "ack c", "work"]


async def test_no_request_waiting_means_no_wait() -> None:
    gate = AckGate(max_wait_s=5.0)
    started = time.monotonic()
    await gate.after_acks()
    assert time.monotonic() - started < 0.05 and gate.waiting == 0


async def test_a_steady_stream_of_requests_cannot_starve_the_work() -> None:
    gate = AckGate(max_wait_s=0.1)
    with gate.acking():
        started = time.monotonic()
        await gate.after_acks()
        waited = time.monotonic() - started
    assert 0.09 <= waited < 1.0
    assert gate.waiting == 0


async def test_work_waits_for_a_burst_to_end_not_only_for_the_acks_in_flight() -> None:
    # acks are fast: between two requests of a burst none is waiting, yet the burst goes on
    gate = AckGate(max_wait_s=5.0, quiet_s=0.05)
    order: list[str] = []

    async def request(name: str, arrives_after_s: float) -> None:
        await asyncio.sleep(arrives_after_s)
        with gate.acking():
            order.append(f"ack {name}")

    async def work() -> None:
        await asyncio.sleep(0.01)  # request a is acked, b and c have not arrived
        await gate.after_acks()
        order.append("work")

    started = time.monotonic()
    await asyncio.gather(request("a", 0.0), request("b", 0.03), request("c", 0.06), work())
    assert order == ["ack a", "ack b", "ack c", "work"]
    # gross ordering only: the work came after the quiet period that followed c's ack
    assert time.monotonic() - started >= 0.1
