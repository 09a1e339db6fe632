"""Starting a blind A/B test: the test and its messages stored with a random order per message,
one job per pair queued with them, and the parent message posted. The queue's workers write and
post the pairs (bot/jobs/ab_pair.py), and the last one opens voting."""

from __future__ import annotations

import secrets
from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.parent import post_or_fail
from bot.answers.pipeline import RunContext
from bot.blocks import ab as blocks
from bot.blocks.common import escape
from bot.domain.ab import PairProgress, Participation
from bot.domain.profile import ProfileVersion
from bot.errors import UserError
from bot.jobs.enqueue import enqueue_ab_pairs
from bot.jobs.payloads import AbPairJob
from bot.persona.versions import resolve_version
from storage import ab as repo
from storage import scenarios as scenarios_repo
from storage.scenarios import ScenarioNotFound

MAX_MESSAGES: Final = 20
DEFAULT_SCENARIO: Final = "Product inquiry"


def check_two_versions(version_a: ProfileVersion, version_b: ProfileVersion) -> None:
    """An A/B test compares two versions: the same one twice is refused, saying how to name two."""
    if version_a.id == version_b.id:
        raise UserError(
            f"A and B are the same version ({escape(version_a.label)}). Compare two versions, "
            "e.g. `Support@3 Support@4`, or two profiles."
        )


def draw_a_first() -> bool:
    """The blind order of one message, from the OS's randomness: True when Reply 1 is A."""
    return secrets.randbelow(2) == 0


async def start(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    spec_a: str,
    spec_b: str,
    messages: list[str] | None,
    scenario: str,
) -> str | None:
    """Start a test of `spec_a` against `spec_b` on `messages`, or on the named scenario's when
    None. None once its pairs are queued and its parent posted (progress and the opening show
    there); otherwise what the person should be told."""
    pool = ctx.pool
    version_a = await resolve_version(pool, team_id=team_id, channel_id=channel_id, spec=spec_a)
    version_b = await resolve_version(pool, team_id=team_id, channel_id=channel_id, spec=spec_b)
    check_two_versions(version_a, version_b)
    if messages is None:
        await scenarios_repo.ensure_seeded(pool, team_id=team_id)
        name = scenario or DEFAULT_SCENARIO
        try:
            found = await scenarios_repo.find_scenario(pool, team_id=team_id, name=name)
        except ScenarioNotFound:
            raise UserError(
                f"There is no scenario named *{escape(name)}*. Name one from `/bot scenarios`, "
                "or give the messages in quotes."
            ) from None
        messages = list(found.messages)
    if len(messages) > MAX_MESSAGES:
        raise UserError(f"An A/B test takes at most {MAX_MESSAGES} messages (got {len(messages)}).")
    async with pool.acquire() as con, con.transaction():
        # the test and one job per pair, stored together: never one without the other
        test, rows = await repo.create(
            con,
            team_id=team_id,
            version_a_id=version_a.id,
            version_b_id=version_b.id,
            user_id=user_id,
            channel_id=channel_id,
            messages=[(m, draw_a_first()) for m in messages],
        )
        await enqueue_ab_pairs(
            con, [AbPairJob(team_id=team_id, ab_id=test.id, message_id=r.id) for r in rows]
        )
    text, parent_blocks = blocks.parent(
        ab_id=test.id,
        label_a=version_a.label,
        label_b=version_b.label,
        messages=len(rows),
        status="answering",
        participation=Participation(0, 0, [0] * len(rows), 0),
        progress=PairProgress(posted=0, failed=0, running=0, waiting=len(rows), total=len(rows)),
    )
    # the pairs' jobs wait for the parent before answering: their answers belong to its thread
    return await post_or_fail(pool, client, test, text=text, parent_blocks=parent_blocks)
