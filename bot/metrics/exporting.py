"""Exporting: every answer and every A/B vote of a period as two CSV files posted in the
channel (`/bot export`). Without a profile the whole workspace is exported. A/B tests still
answering or open for votes are left out, for everyone, until voting ends: their votes, the
judge's opinions and which version wrote which reply would unblind them."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape
from bot.blocks.stats import period_text
from bot.metrics.export import results_csv, votes_csv
from bot.slack.uploads import Upload, upload
from storage import profiles as profiles_repo
from storage import stats as repo


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def left_out(running: list[int]) -> str:
    """The sentence saying which A/B tests an export leaves out, or nothing."""
    if not running:
        return ""
    shown = ", ".join(f"#{i}" for i in running[:10]) + (" …" if len(running) > 10 else "")
    return (
        f" {_plural(len(running), 'A/B test')} still open ({shown}) "
        f"{'is' if len(running) == 1 else 'are'} left out, answers and votes, until "
        "voting closes: exported now, they would show which reply is which."
    )


async def export(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    profile_name: str | None,
    days: int,
) -> str:
    """Post the two files of the named profile, or of the workspace; what to tell the person."""
    profile = (
        await profiles_repo.find_profile(pool, team_id=team_id, name=profile_name)
        if profile_name
        else None
    )
    profile_id = profile.id if profile else None
    results = await repo.export_results(pool, team_id=team_id, profile_id=profile_id, days=days)
    votes = await repo.export_votes(pool, team_id=team_id, profile_id=profile_id, days=days)
    running = await repo.running_ab_tests(pool, team_id=team_id, profile_id=profile_id)
    scope = f"*{escape(profile.name)}*" if profile else "this workspace"
    period = period_text(days)
    if not results and not votes:
        return f"Nothing to export: {scope} has no answers or A/B votes in {period}." + left_out(
            running
        )
    # thousands of rows of CSV is CPU work: off the event loop
    results_bytes, votes_bytes = await asyncio.to_thread(
        lambda: (results_csv(results), votes_csv(votes))
    )
    name = re.sub(r"[^\w.-]", "_", profile.name) if profile else "workspace"
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    results_name = f"romashka-results-{name}-{days}d-{stamp}.csv"
    votes_name = f"romashka-ab-votes-{name}-{days}d-{stamp}.csv"
    error = await upload(
        client,
        channel_id=channel_id,
        files=[
            Upload(results_name, results_bytes, f"Answers of {name}, {period}"),
            Upload(votes_name, votes_bytes, f"A/B votes of {name}, {period}"),
        ],
        comment=(
            f"Export of {scope} over {period}, requested by <@{user_id}>: "
            f"{_plural(len(results), 'answer')} and {_plural(len(votes), 'A/B vote')}."
        ),
    )
    if error is not None:
        return error
    return (
        f"Posted `{results_name}` ({_plural(len(results), 'answer')}) and `{votes_name}` "
        f"({_plural(len(votes), 'vote')}) in this channel." + left_out(running)
    )
