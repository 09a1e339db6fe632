"""How long a queue manager waits for a NOTIFY before it looks at the queue again."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# PgQueuer (1.6) sends no NOTIFY for a job that asked to be retried (RetryRequested: "no parent
# yet", "post claimed", "model rate-limited"), and it reads when the next deferred job is due
# only before it starts to wait. A retry asked for while the manager waits was therefore picked
# only when the wait ended: up to the whole dequeue timeout (the heartbeat timeout, 30 s by
# default) late, which stalled an A/B pair asked to wait 0.2 s for its parent message. Waiting
# at most this long bounds that lateness; an idle manager pays a few small queries a second.
DEQUEUE_POLL_S: Final = 1.0


def dequeue_timeout(heartbeat_timeout_s: float) -> timedelta:
    """The `dequeue_timeout` for QueueManager.run: new jobs still wake it at once (NOTIFY);
    a retried or deferred job, or a dead worker's job, is noticed within this time."""
    return timedelta(seconds=min(DEQUEUE_POLL_S, heartbeat_timeout_s))
