"""`/bot stats [profile] [--days N] [--chart]` and the stats message's Chart button."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape
from bot.blocks.stats import without_table
from bot.errors import UserError
from bot.metrics import report
from bot.metrics.versions import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.parse import Parsed
from commands.request import Reply, SlashRequest

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


async def run(deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed) -> Reply:
    args = parse_period_args(parsed, usage=STATS_USAGE, allow_chart=True)
    profile = await report.profile_named(
        deps.pool, team_id=req.team_id, channel_id=req.channel_id, name=args.profile
    )
    if args.chart:
        told = await report.post_chart(
            deps.pool,
            client,
            team_id=req.team_id,
            channel_id=req.channel_id,
            profile=profile,
            days=args.days,
        )
        return Reply(told)
    text, blocks = await report.figures(
        deps.pool, team_id=req.team_id, profile=profile, days=args.days
    )
    return Reply(text, blocks, fallback=without_table(blocks))


def _chart_request(body: dict[str, Any]) -> tuple[int, int]:
    value = payload.json_value(body)
    try:
        profile_id, days = int(value["p"]), int(value["d"])
    except (ValueError, KeyError, TypeError):
        raise UserError(payload.OUT_OF_DATE) from None
    return profile_id, parse_days(str(days))


async def chart_button(deps: Deps, click: Click) -> Reply:
    profile_id, days = _chart_request(click.body)
    profile = await report.profile_by_id(deps.pool, team_id=click.team_id, profile_id=profile_id)
    told = await report.post_chart(
        deps.pool,
        click.client,
        team_id=click.team_id,
        channel_id=click.channel_id,
        profile=profile,
        days=days,
    )
    return Reply(told)
