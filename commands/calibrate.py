"""`/bot calibrate <trait|all> [profile[@version]] [scenario] [samples N] [confirm]`, and the
Stop on a sweep's parent message."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.scenarios import calibration, calibration_stop
from bot.startup.deps import Deps
from commands.listen import stop_click
from commands.parse import Parsed
from commands.replies import answering, said
from commands.request import Reply, SlashRequest


async def run(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    words = parsed.rest.split()
    if parsed.profile:  # `/bot calibrate @Support formality`: the profile goes after the trait
        words[1:1] = [f"@{parsed.profile}"]
    return said(
        await calibration.start(
            answering(deps),
            client,
            team_id=req.team_id,
            channel_id=req.channel_id,
            user_id=req.user_id,
            words=words,
            confirm_above=deps.settings.confirm_model_calls,
        )
    )


# anyone who sees the sweep may stop it, as for scenario and simulation runs; the sweep is
# looked up in the clicking workspace only
stop_button = stop_click(calibration_stop.stop)
