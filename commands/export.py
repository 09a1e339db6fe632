"""`/bot export [profile] [--days N]`: two CSV files, every answer and every A/B vote of the
period, posted in the channel; without a profile the whole workspace is exported."""

from __future__ import annotations

from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics.exporting import export
from bot.startup.deps import Deps
from commands.parse import Parsed
from commands.request import Reply, SlashRequest
from commands.stats import parse_period_args

EXPORT_USAGE: Final = (
    "Usage: `/bot export [profile] [--days N]` — for example `/bot export Support --days 7`; "
    "without a profile every profile's answers are exported. N is 1–365 (default 30)."
)


async def run(deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed) -> Reply:
    args = parse_period_args(parsed, usage=EXPORT_USAGE, allow_chart=False)
    told = await export(
        deps.pool,
        client,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        profile_name=args.profile,
        days=args.days,
    )
    return Reply(told)
