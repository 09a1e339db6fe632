"""`/bot stats [profile] [--days N] [--chart]` and the stats message's Chart button."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape
from bot.blocks.stats import period_text, stats_message
from bot.domain.profile import Profile
from bot.errors import UserError
from bot.metrics.charts import stats_chart
from bot.metrics.versions import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, compare
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.parse import Parsed
from commands.profiles import resolve
from commands.request import Reply, SlashRequest
from commands.uploads import Upload, upload
from storage import profiles as profiles_repo
from storage import stats as repo

STATS_USAGE: Final = (
    "Usage: `/bot stats [profile] [--days N] [--chart]` — for example "
    "`/bot stats Support --days 7`. N is 1–365 (default 30)."
)
_DIGITS: Final = re.compile(r"^[0-9]{1,4}$")


@dataclass(frozen=True, slots=True)
class PeriodArgs:
    profile: str | None
    days: int
    chart: bool = False


def parse_days(raw: str) -> int:
    if not _DIGITS.match(raw) or not MIN_DAYS <= int(raw) <= MAX_DAYS:
        shown = f" (not `{escape(raw[:20])}`)" if raw else ""
        raise UserError(
            f"`--days` takes a whole number of days from {MIN_DAYS} to {MAX_DAYS}{shown}, "
            "e.g. `--days 7`."
        )
    return int(raw)


def parse_period_args(parsed: Parsed, *, usage: str, allow_chart: bool) -> PeriodArgs:
    """`[profile] [--days N]` (also `--days=N`), plus `--chart` where allowed, in any order."""
    words = parsed.rest.split()
    profile = parsed.profile
    days = DEFAULT_DAYS
    chart = False
    i = 0
    while i < len(words):
        word = words[i]
        flag = word.lower()
        if flag == "--days":
            i += 1
            days = parse_days(words[i] if i < len(words) else "")
        elif flag.startswith("--days="):
            days = parse_days(word.partition("=")[2])
        elif flag == "--chart" and allow_chart:
            chart = True
        elif word.startswith(("--", "—")):
            raise UserError(f"I don't know the option `{escape(word[:40])}`. {usage}")
        elif profile is None:
            profile = word.removeprefix("@")
        else:
            raise UserError(usage)
        i += 1
    return PeriodArgs(profile=profile, days=days, chart=chart)


def _chart_title(profile: Profile, days: int) -> str:
    return f"{profile.name}: figures per version over {period_text(days)}"


async def post_chart(
    deps: Deps,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    profile: Profile,
    days: int,
) -> Reply:
    rows = await repo.version_stats(deps.pool, team_id=team_id, profile_id=profile.id, days=days)
    if not rows:
        text, _ = stats_message([], profile_name=profile.name, profile_id=profile.id, days=days)
        return Reply(text)
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
        return Reply(error)
    return Reply(f"Posted the chart of *{escape(profile.name)}* in this channel.")


async def run(deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed) -> Reply:
    args = parse_period_args(parsed, usage=STATS_USAGE, allow_chart=True)
    profile = await resolve(deps, req, args.profile)
    if args.chart:
        return await post_chart(
            deps,
            client,
            team_id=req.team_id,
            channel_id=req.channel_id,
            profile=profile,
            days=args.days,
        )
    rows = await repo.version_stats(
        deps.pool, team_id=req.team_id, profile_id=profile.id, days=args.days
    )
    text, blocks = stats_message(
        compare(rows), profile_name=profile.name, profile_id=profile.id, days=args.days
    )
    return Reply(text, blocks)


def _chart_request(body: dict[str, Any]) -> tuple[int, int]:
    value = payload.json_value(body)
    try:
        profile_id, days = int(value["p"]), int(value["d"])
    except (ValueError, KeyError, TypeError):
        raise UserError(payload.OUT_OF_DATE) from None
    return profile_id, parse_days(str(days))


async def chart_button(deps: Deps, click: Click) -> Reply:
    profile_id, days = _chart_request(click.body)
    profile = await profiles_repo.get_profile(
        deps.pool, team_id=click.team_id, profile_id=profile_id
    )
    channel = click.channel_id
    return await post_chart(
        deps,
        click.client,
        team_id=click.team_id,
        channel_id=str(channel),
        profile=profile,
        days=days,
    )
