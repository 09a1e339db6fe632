"""Slack's request signature check, with malformed headers refused instead of raising.

slack_sdk's `SignatureVerifier` does `int(timestamp)` and `hmac.compare_digest(…, signature)`:
a timestamp that is not a number raises ValueError and a non-ASCII signature raises TypeError,
so Bolt answers 500 and logs a traceback, for anyone who cares to send such a request. Here a
request whose headers cannot be a Slack signature is answered like any other bad signature (401)
before the SDK sees it; every other request goes through Bolt's own check unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from slack_bolt.middleware.request_verification.async_request_verification import (
    AsyncRequestVerification,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

# seconds since 1970 fit in 11 digits until the year 5138
TIMESTAMP_DIGITS: Final = 11


def well_formed(*, timestamp: str, signature: str) -> bool:
    return (
        timestamp.isascii()
        and timestamp.isdigit()
        and len(timestamp) <= TIMESTAMP_DIGITS
        and signature.isascii()
    )


class StrictRequestVerification(AsyncRequestVerification):
    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        if not self._can_skip(req.mode, req.body):
            timestamp = req.headers.get("x-slack-request-timestamp", ["0"])[0]
            signature = req.headers.get("x-slack-signature", [""])[0]
            if not well_formed(timestamp=timestamp, signature=signature):
                self.logger.info("refused a request with malformed signature headers")
                return self._build_error_response()
        return await super().async_process(req=req, resp=resp, next=next)
