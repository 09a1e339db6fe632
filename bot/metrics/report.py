"""`/bot stats`: a profile's figures per version over a period, as a message or a chart."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.blocks.common import Block, escape
from bot.blocks.judges import agreement_section
from bot.blocks.stats import period_text, stats_message
from bot.domain.profile import Profile
from bot.metrics import judge_report
from bot.metrics.charts import stats_chart
from bot.metrics.versions import compare
from bot.slack.uploads import Upload, upload
from storage import profiles as profiles_repo
from storage import stats as repo


async def profile_named(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, name: str | None
) -> Profile:
    """The named profile, else the channel's pin, else the workspace default."""
    return await profiles_repo.resolve_profile(
        pool, team_id=team_id, channel_id=channel_id, name=name
    )


async def profile_by_id(pool: asyncpg.Pool, *, team_id: str, profile_id: int) -> Profile:
    return await profiles_repo.get_profile(pool, team_id=team_id, profile_id=profile_id)


async def figures(
    pool: asyncpg.Pool, *, team_id: str, profile: Profile, days: int
) -> tuple[str, list[Block]]:
    """The stats message: each version used in the period against the one before it."""
    rows = await repo.version_stats(pool, team_id=team_id, profile_id=profile.id, days=days)
    text, blocks = stats_message(
        compare(rows), profile_name=profile.name, profile_id=profile.id, days=days
    )
    # the judges are the workspace's, whichever profile is shown: one note under the header
    # and its explanation (or after the "nothing yet" line), within Slack's 50 blocks
    judges = await judge_report.every(pool, team_id=team_id)
    at = min(2, len(blocks))
    shown = [*blocks[:at], agreement_section(judges), *blocks[at:]]
    return text, shown[: limits.BLOCKS_PER_MESSAGE]


def _chart_title(profile: Profile, days: int) -> str:
    return f"{profile.name}: figures per version over {period_text(days)}"


async def post_chart(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    profile: Profile,
    days: int,
) -> str:
    """The chart of the profile's figures per version, posted in the channel."""
    rows = await repo.version_stats(pool, team_id=team_id, profile_id=profile.id, days=days)
    if not rows:
        text, _ = stats_message([], profile_name=profile.name, profile_id=profile.id, days=days)
        return text
    # drawing takes tens of milliseconds of CPU: off the event loop
    png = await asyncio.to_thread(stats_chart, rows, title=_chart_title(profile, days))
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    safe = re.sub(r"[^\w.-]", "_", profile.name)
    error = await upload(
        client,
        channel_id=channel_id,
        files=[
            Upload(f"stats-{safe}-{days}d-{stamp}.png", png, _chart_title(profile, days)),
        ],
        comment=(
            f"Alignment, median response time and satisfaction per version of "
            f"*{escape(profile.name)}* over {period_text(days)}."
        ),
    )
    if error is not None:
        return error
    return f"Posted the chart of *{escape(profile.name)}* in this channel."
