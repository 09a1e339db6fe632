"""A job's last try failed: PgQueuer holds it as failed (`pgq failed` lists it) and retries it no
more. Its work must not end out of sight: the job kind's hook (bot.jobs.worker.Executor) says
on the run's parent message what could not be done, in a short reason, with a way to act.

The reason names the kind of failure, never the exception's text (which may hold a query, a
token in a URL, or a customer's message): the log has the details."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias

import aiohttp
import asyncpg
from pgqueuer import Job

# what the last try's exception is shown as
DATABASE: Final = "the database did not answer"
SLACK: Final = "Slack did not answer"
INTERNAL: Final = "an internal error"

GaveUp: TypeAlias = Callable[[Job, Exception], Awaitable[None]]


def failure_reason(exc: BaseException) -> str:
    """Why a job failed for good, short and free of anything the exception carried."""
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | ConnectionError):
        return DATABASE
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError):
        return SLACK
    return f"{INTERNAL} ({type(exc).__name__}; the log has the details)"
