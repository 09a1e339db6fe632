"""Writing an A/B test's blind pairs: both sides answer each message, the judge compares them,
and the pair is posted in the thread. One pair's failure fails only that pair; a stop marks the
test interrupted; a test with no pair posted ends failed with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any, Final, Protocol

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.parent import refresh
from bot.answers.pipeline import RunContext, answer_and_judge
from bot.blocks import ab as blocks
from bot.blocks.common import Block
from bot.domain.ab import AbMessage, AbTest
from bot.domain.profile import ProfileVersion
from bot.model.pair_judge import judge as pairwise_judge
from bot.slack.post import post_message
from storage import ab as repo
from storage.ab import INTERRUPTED_REASON
from storage.results import NewResult

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 10.0
INTERNAL_ERROR: Final = "could not be answered (internal error)"
NOTHING_POSTED: Final = "no message could be answered and posted"
TOO_LONG: Final = frozenset({"msg_too_long", "msg_blocks_too_long", "invalid_blocks"})
# not a failure: the test stopped answering (cancelled) before this pair was written
SKIPPED: Final = "skipped"


class Build(Protocol):
    """A pair message built for a text budget."""

    def __call__(self, *, budget: blocks.Budget) -> tuple[str, list[Block]]: ...


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown error"


async def post_pair(client: AsyncWebClient, *, test: AbTest, parent_ts: str, build: Build) -> str:
    """Post a pair with its buttons; when Slack refuses it as too long, again with shorter
    replies (their full text stays behind the Details button). Returns the message's ts."""
    text, pair_blocks = build(budget=blocks.FULL)
    message: dict[str, Any] = {
        "channel": test.channel_id,
        "thread_ts": parent_ts,
        "username": blocks.NEUTRAL_NAME,
        "icon_emoji": blocks.NEUTRAL_ICON,
    }
    try:
        posted = await client.chat_postMessage(**message, text=text, blocks=pair_blocks)
    except SlackApiError as exc:
        if slack_error(exc) not in TOO_LONG:
            raise
        log.warning("Slack refused an A/B pair as too long (%s); shortening", slack_error(exc))
        text, pair_blocks = build(budget=blocks.COMPACT)
        posted = await post_message(client, **message, text=text, blocks=pair_blocks)
    return str(posted["ts"])


async def update_pair(client: AsyncWebClient, *, channel: str, ts: str, build: Build) -> None:
    text, pair_blocks = build(budget=blocks.FULL)
    try:
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=pair_blocks)
    except SlackApiError as exc:
        if slack_error(exc) not in TOO_LONG:
            raise
        text, pair_blocks = build(budget=blocks.COMPACT)
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=pair_blocks)


async def _pair_failed(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    test: AbTest,
    row: AbMessage,
    total: int,
    parent_ts: str,
    reason: str,
) -> None:
    """Record why a pair takes no votes and say so in the thread; both are best effort, since
    this runs when something already went wrong."""
    try:
        await repo.set_message_failure(pool, team_id=test.team_id, message_id=row.id, reason=reason)
    except Exception:
        log.exception("A/B test %d: could not record a failed pair", test.id)
    text, note = blocks.failed_pair(
        position=row.position, total=total, question=row.message, reason=reason
    )
    try:
        await post_message(
            client,
            channel=test.channel_id,
            thread_ts=parent_ts,
            text=text,
            blocks=note,
            username=blocks.NEUTRAL_NAME,
            icon_emoji=blocks.NEUTRAL_ICON,
        )
    except SlackApiError as exc:
        log.warning("could not post a failed A/B pair: %s", slack_error(exc))


async def _answer_pair(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    ctx: RunContext,
    *,
    test: AbTest,
    row: AbMessage,
    version_a: ProfileVersion,
    version_b: ProfileVersion,
    total: int,
    parent_ts: str,
) -> str | None:
    """None when the pair was posted, else why not."""
    current = await repo.get(pool, team_id=test.team_id, ab_id=test.id)
    if current.status != "answering":
        return SKIPPED

    def base(version: ProfileVersion) -> NewResult:
        return NewResult(
            team_id=test.team_id,
            profile_version_id=version.id,
            kind="ab",
            user_id=test.started_by,
            question=row.message,
            answer="",
            channel_id=test.channel_id,
            thread_ts=parent_ts,
        )

    result_a, result_b = await asyncio.gather(
        answer_and_judge(ctx, version=version_a, base=base(version_a)),
        answer_and_judge(ctx, version=version_b, base=base(version_b)),
    )
    # both sides answered, so the model is there (the pipeline stores no answer without one)
    if result_a.answer and result_b.answer and ctx.llm is not None:
        pair = await pairwise_judge(
            ctx.llm, question=row.message, answer_a=result_a.answer, answer_b=result_b.answer
        )
        verdict, detail = pair.verdict, pair.detail
    else:
        verdict, detail = "unavailable", {"reason": "a side produced no answer"}
    await repo.set_answers(
        pool,
        team_id=test.team_id,
        message_id=row.id,
        result_a_id=result_a.id,
        result_b_id=result_b.id,
        judge_verdict=verdict,
        judge_detail=detail,
    )
    first, second = (result_a, result_b) if row.a_first else (result_b, result_a)

    build = partial(
        blocks.blind_pair,
        message_id=row.id,
        position=row.position,
        total=total,
        question=row.message,
        reply_1=first.answer,
        reply_2=second.answer,
    )

    try:
        ts = await post_pair(client, test=test, parent_ts=parent_ts, build=build)
    except SlackApiError as exc:
        reason = f"could not be posted (Slack said `{slack_error(exc)}`)"
        log.warning("A/B test %d: %s", test.id, reason)
        await _pair_failed(
            pool, client, test=test, row=row, total=total, parent_ts=parent_ts, reason=reason
        )
        return reason
    await repo.set_message_ts(pool, team_id=test.team_id, message_id=row.id, ts=ts)
    return None


async def _keep_alive(pool: asyncpg.Pool, test: AbTest) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await repo.heartbeat(pool, team_id=test.team_id, ab_id=test.id)
        except Exception:
            log.warning("A/B test %d: heartbeat failed", test.id)


async def _interrupted(pool: asyncpg.Pool, client: AsyncWebClient, test: AbTest) -> None:
    # a few tries: right after a database restart the pool's first connections are dead ones;
    # what this cannot mark, the sweep does once the heartbeat is stale
    for attempt in range(3):
        try:
            await repo.stop_answering(
                pool,
                team_id=test.team_id,
                ab_id=test.id,
                status="interrupted",
                reason=INTERRUPTED_REASON,
            )
            break
        except Exception:
            await asyncio.sleep(0.2 * (attempt + 1))
    else:
        log.warning("A/B test %d: could not mark it interrupted; the sweep will", test.id)
        return
    with contextlib.suppress(Exception):
        await refresh(pool, client, test.id, team_id=test.team_id)


async def answer_all(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    ctx: RunContext,
    concurrency: int,
    test: AbTest,
    rows: list[AbMessage],
    version_a: ProfileVersion,
    version_b: ProfileVersion,
    parent_ts: str,
) -> str | None:
    """Write and post every pair, then open voting. None when voting opened; otherwise why the
    test did not open (it is then failed, or was cancelled meanwhile)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(row: AbMessage) -> str | None:
        async with limit:
            try:
                return await _answer_pair(
                    pool,
                    client,
                    ctx,
                    test=test,
                    row=row,
                    version_a=version_a,
                    version_b=version_b,
                    total=len(rows),
                    parent_ts=parent_ts,
                )
            except Exception:
                # a bug or an outage on one pair fails that pair, not the others
                log.exception("A/B test %d: message %d failed", test.id, row.position + 1)
                await _pair_failed(
                    pool,
                    client,
                    test=test,
                    row=row,
                    total=len(rows),
                    parent_ts=parent_ts,
                    reason=INTERNAL_ERROR,
                )
                return INTERNAL_ERROR

    beat = asyncio.create_task(_keep_alive(pool, test))
    try:
        outcomes = await asyncio.gather(*(one(r) for r in rows))
    except asyncio.CancelledError:
        # shutting down mid-test: say so now rather than waiting for the sweep
        await asyncio.shield(_interrupted(pool, client, test))
        raise
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    posted = sum(1 for o in outcomes if o is None)
    opened = False
    if posted == 0:
        failed = [(r, o) for r, o in zip(rows, outcomes, strict=True) if o not in (None, SKIPPED)]
        why = NOTHING_POSTED
        if failed:
            why += f": message {failed[0][0].position + 1} {failed[0][1]}"
        await repo.stop_answering(
            pool, team_id=test.team_id, ab_id=test.id, status="failed", reason=why
        )
    else:
        # false when the test was cancelled meanwhile
        opened = await repo.open_voting(pool, team_id=test.team_id, ab_id=test.id)
    await refresh(pool, client, test.id, team_id=test.team_id)
    if opened:
        return None
    current = await repo.get(pool, team_id=test.team_id, ab_id=test.id)
    return current.failure_reason or f"it was {current.status}"
