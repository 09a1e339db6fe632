"""The fence around a claimed thread post, so that a worker that froze (not died) after its
claim cannot post after another worker took the claim over.

A lapsed claim (older than the queue's heartbeat timeout, the lease) is taken over by the job's
next run, which looks in the thread for the post and sends it only when it is not there. For
that look to see anything the first holder can still send, the holder:

1. renews its claim by compare-and-set right before sending (its token still current, the lease
   not run out): a holder that was taken over finds the token changed and sends nothing;
2. checks its monotonic clock right before the HTTP call: a holder frozen between the renewal
   and the call (longer than SEND_WINDOW_SHARE of the lease) sends nothing;
3. sends with a Slack client whose request gives up after POST_TIMEOUT_SHARE of the lease
   (and never retries on its own), so a request still in flight ends before the lease does.

Renewal + window + timeout = 0.75 of the lease: any post the holder makes is in Slack a quarter
of the lease before another worker can take the claim over and read the thread. What no
process can fence is a freeze between the clock check and the bytes leaving the socket; that
window is a few instructions long."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg
from pgqueuer import RetryRequested
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from storage import post_claims
from storage.post_claims import ClaimTable, Renewal

# after a renewal the post must start within this share of the lease ...
SEND_WINDOW_SHARE: Final = 0.25
# ... and its request ends (sent or given up) within this share of the lease
POST_TIMEOUT_SHARE: Final = 0.5
# however long the lease, a thread post that takes this long has failed (slack_sdk's default
# of 30 s would outlast the default lease of 30 s by itself)
POST_TIMEOUT_MAX_S: Final = 10.0


class ClaimLost(Exception):
    """The claim lapsed or another worker took it over: this caller must not send (the worker
    holding it now posts it)."""


class SendLate(Exception):
    """This caller was too slow: its claim lapsed before the renewal, or it stalled between the
    renewal and the send. It must not send now; the job asks again once the claim has lapsed,
    and then looks in the thread first."""


def post_timeout_s(lease_s: float) -> float:
    """The request timeout of a fenced post: well inside the lease."""
    return min(POST_TIMEOUT_MAX_S, lease_s * POST_TIMEOUT_SHARE)


class PostFence:
    """One claimed post. `fence.client(client)` is a twin of `client` that renews the claim and
    checks the clock before every request it makes (a post, its shortened retry, a note), and
    gives each request at most `post_timeout_s(lease_s)`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        table: ClaimTable,
        team_id: str,
        row_id: int,
        token: datetime,
        lease_s: float,
    ) -> None:
        self._pool = pool
        self._table = table
        self._team_id = team_id
        self._row_id = row_id
        self._token = token
        self.lease_s = lease_s

    def client(self, client: AsyncWebClient) -> AsyncWebClient:
        return _FencedClient(self, client)

    async def renew(self) -> None:
        """Right before a request: raises ClaimLost when the claim is no longer this caller's,
        SendLate when this caller was too slow (the claim lapsed before the renewal, or the
        caller stalled past its window after it)."""
        # timed from before the renewal, which starts the lease somewhere inside the call
        started = time.monotonic()
        renewed = await post_claims.renew(
            self._pool,
            table=self._table,
            team_id=self._team_id,
            row_id=self._row_id,
            token=self._token,
            lease_s=self.lease_s,
        )
        if renewed.outcome is Renewal.TAKEN:
            raise ClaimLost
        if renewed.outcome is Renewal.LAPSED or renewed.token is None:
            # slow since the claim (reading the thread, say): not taken over yet, but it may
            # be at any moment; the job asks again and then looks in the thread first
            raise SendLate
        self._token = renewed.token
        if time.monotonic() - started > self.lease_s * SEND_WINDOW_SHARE:
            # stalled since the renewal: the lease may have run out and the post been taken over
            raise SendLate


class _FencedClient(AsyncWebClient):
    def __init__(self, fence: PostFence, client: AsyncWebClient) -> None:
        super().__init__(
            token=client.token,
            base_url=client.base_url,
            # seconds as a float: slack_sdk hands it to aiohttp.ClientTimeout, which takes one
            timeout=post_timeout_s(fence.lease_s),  # type: ignore[arg-type]
            # no retries of its own: a retry (after a 429's Retry-After, say) would outlast
            # the lease; the job is retried instead, and looks in the thread first
            retry_handlers=[],
        )
        self._fence = fence

    async def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> AsyncSlackResponse:
        await self._fence.renew()
        return await super().api_call(api_method, *args, **kwargs)


def retry_when_rate_limited(exc: SlackApiError, *, lease_s: float) -> None:
    """A fenced post answered 429 was not taken: the job goes back to the queue (for at least
    Slack's Retry-After and the lease, so that its claim has lapsed and the retry looks in the
    thread first) instead of the client waiting inside the lease. Returns for any other error."""
    if exc.response is None or exc.response.get("error") != "ratelimited":
        return
    after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
    try:
        wait_s = float(after) if after is not None else 0.0
    except ValueError:
        wait_s = 0.0
    raise RetryRequested(delay=timedelta(seconds=max(wait_s, lease_s)), reason="post rate-limited")
