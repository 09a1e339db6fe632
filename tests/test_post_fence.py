"""A worker that freezes (not dies) holding a thread post's claim (issue #16): another worker
takes the claim over once it is JOB_HEARTBEAT_TIMEOUT_S old, finds nothing in the thread and
posts; the frozen one, waking, must not post too. The freeze is a pause of worker A's job at a
chosen point (an event it waits for); worker B is a real Worker on the real queue, picking the
same post job as PgQueuer hands a stalled job to another worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pgqueuer import RetryRequested

from bot.jobs import post_fence, scenario_message
from bot.jobs.payloads import ThreadPostJob
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.metrics import judge_report
from storage import post_claims
from tests.slack_driver import SlackDriver
from tests.test_jobs import idle, queued_run, quick, until  # noqa: F401  (fixtures)


async def _post_job(driver: SlackDriver) -> tuple[bytes, int, str]:
    """One answered message of a run and its thread post's job, still queued."""
    await queued_run(driver, "Billing questions")
    payload: bytes = await driver.pool.fetchval(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'scenario_message' ORDER BY id LIMIT 1"
    )
    # the other messages' jobs are not needed: only this message's post is raced
    await driver.pool.execute("DELETE FROM pgqueuer WHERE entrypoint = 'scenario_message'")
    clients = SlackClients(driver.deps.settings, driver.pool)
    await scenario_message.handle(driver.deps, clients, payload)
    post: bytes = await driver.pool.fetchval(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'scenario_thread_post'"
    )
    parent_ts: str = await driver.pool.fetchval("SELECT parent_ts FROM scenario_runs")
    return post, ThreadPostJob.loads(post).result_id, parent_ts


def posts_of(driver: SlackDriver, result_id: int) -> list[dict[str, Any]]:
    """Every post of the result that Slack took, whoever sent it."""
    return [
        c.args
        for c in driver.slack.of("chat.postMessage")
        if c.response.get("ok")
        and (c.args.get("metadata") or {}).get("event_payload") == {"result_id": result_id}
    ]


class Freeze:
    """Wraps an awaitable step: its first call (worker A's) runs `before` or `after` the real
    step, then waits until released; later calls (worker B's) just run it."""

    def __init__(self, real: Callable[..., Awaitable[Any]], *, after: bool) -> None:
        self._real = real
        self._after = after
        self._calls = 0
        self.frozen = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._calls += 1
        if self._calls > 1:
            return await self._real(*args, **kwargs)
        result = await self._real(*args, **kwargs) if self._after else None
        self.frozen.set()
        await self.release.wait()
        return result if self._after else await self._real(*args, **kwargs)


async def _race(driver: SlackDriver, freeze: Freeze, post: bytes, result_id: int) -> Any:
    """A runs the post job and freezes; B (a real worker) takes the lapsed claim over and
    posts; then A wakes. Returns what A's job ended with (None or its exception)."""
    clients = SlackClients(driver.deps.settings, driver.pool)
    a = asyncio.create_task(scenario_message.handle_post(driver.deps, clients, post))
    await asyncio.wait_for(freeze.frozen.wait(), timeout=10)
    async with Worker(driver.deps, options=options_from(driver.deps)):

        async def b_posted() -> bool:
            return bool(
                await driver.pool.fetchval(
                    "SELECT posted_ts IS NOT NULL FROM test_results WHERE id = $1", result_id
                )
            )

        # B finds A's claim live (WAIT), comes back once it is a lease old, looks, posts
        await until(b_posted, timeout=20, what="worker B to post after the claim lapsed")
    assert len(posts_of(driver, result_id)) == 1
    freeze.release.set()
    try:
        await a
    except Exception as exc:  # returned for the test to check
        return exc
    return None


async def test_a_worker_frozen_between_claim_and_send_does_not_post_after_a_takeover(
    idle: SlackDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post, result_id, parent_ts = await _post_job(idle)
    # A freezes after its claim, while it builds the message (before the send)
    freeze = Freeze(judge_report.some, after=False)
    monkeypatch.setattr(judge_report, "some", freeze)
    ended = await _race(idle, freeze, post, result_id)
    # A's renewal found the claim taken over: it sent nothing and ended quietly
    assert ended is None
    [sent] = posts_of(idle, result_id)
    assert sent["thread_ts"] == parent_ts
    # B looked in the thread first (the claim had lapsed)
    assert idle.slack.of("conversations.replies")


async def test_a_worker_frozen_after_renewing_its_claim_does_not_post_late(
    idle: SlackDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post, result_id, _ = await _post_job(idle)
    # A renews its claim right before the send, then freezes longer than the lease
    freeze = Freeze(post_claims.renew, after=True)
    monkeypatch.setattr(post_claims, "renew", freeze)
    ended = await _race(idle, freeze, post, result_id)
    # its clock says it stalled past its window: no send; the job asks again later, and then
    # finds the post recorded
    assert isinstance(ended, RetryRequested)
    await scenario_message.handle_post(idle.deps, SlackClients(idle.deps.settings, idle.pool), post)
    assert len(posts_of(idle, result_id)) == 1


@pytest.mark.parametrize("lease_s", [1.0, 2.0, 30.0, 120.0, 600.0])
def test_a_fenced_post_ends_well_inside_the_lease(lease_s: float) -> None:
    """Renewal window + request timeout leave a quarter of the lease (at least) for the post to
    be readable in the thread before another worker can take the claim over and look."""
    used = lease_s * post_fence.SEND_WINDOW_SHARE + post_fence.post_timeout_s(lease_s)
    assert used <= 0.75 * lease_s
    assert post_fence.post_timeout_s(lease_s) <= post_fence.POST_TIMEOUT_MAX_S


async def test_a_fenced_client_makes_no_retries_and_times_out_inside_the_lease(
    idle: SlackDriver,  # noqa: F811
) -> None:
    client = await SlackClients(idle.deps.settings, idle.pool).for_team("T0001")
    assert client is not None
    fence = post_fence.PostFence(
        idle.pool,
        table=post_claims.ClaimTable.RESULTS,
        team_id="T0001",
        row_id=1,
        token=None,  # type: ignore[arg-type]  # never renewed here
        lease_s=2.0,
    )
    fenced = fence.client(client)
    assert fenced.retry_handlers == []
    assert fenced.timeout == 1.0
    assert fenced.base_url == client.base_url


async def test_a_fenced_post_answered_429_goes_back_to_the_queue_and_is_sent_once(
    idle: SlackDriver,  # noqa: F811
) -> None:
    """The fenced client does not wait out a Retry-After inside the lease: the job is put back
    for at least the lease, and its retry looks in the thread first, then posts."""
    post, result_id, _ = await _post_job(idle)
    clients = SlackClients(idle.deps.settings, idle.pool)
    idle.slack.fail_next(
        "chat.postMessage", error="ratelimited", status=429, headers={"Retry-After": "5"}
    )
    with pytest.raises(RetryRequested) as retry:
        await scenario_message.handle_post(idle.deps, clients, post, lease_s=2.0)
    assert retry.value.delay.total_seconds() == 5.0
    assert posts_of(idle, result_id) == []
    await idle.pool.execute(
        "UPDATE test_results SET posted_at = posted_at - interval '1 hour' WHERE id = $1",
        result_id,
    )
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=2.0)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=2.0)
    assert len(posts_of(idle, result_id)) == 1


async def test_a_claim_that_lapsed_before_the_send_is_not_used_but_asked_again(
    idle: SlackDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slow, not taken over (nobody else ran the job yet): the send waits for the job's retry,
    which looks in the thread first, rather than racing a takeover that may come any moment."""
    post, result_id, _ = await _post_job(idle)
    await idle.pool.execute("DELETE FROM pgqueuer WHERE entrypoint = 'scenario_thread_post'")
    freeze = Freeze(judge_report.some, after=False)
    monkeypatch.setattr(judge_report, "some", freeze)
    clients = SlackClients(idle.deps.settings, idle.pool)
    lease_s = 1.0
    a = asyncio.create_task(scenario_message.handle_post(idle.deps, clients, post, lease_s=lease_s))
    await asyncio.wait_for(freeze.frozen.wait(), timeout=10)
    await asyncio.sleep(lease_s * 1.2)  # the claim (its timestamp unchanged) lapses
    freeze.release.set()
    with pytest.raises(RetryRequested):
        await a
    assert posts_of(idle, result_id) == []
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=lease_s)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=lease_s)
    assert len(posts_of(idle, result_id)) == 1
