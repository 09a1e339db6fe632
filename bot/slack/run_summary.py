"""A finished run's end on Slack, shared by scenario runs and simulation runs: its summary on
the parent message (edited in, or posted anew when Slack refuses the edit, so it is never lost)
and its live plan stopped under it (bot.slack.live_plan)."""

from __future__ import annotations

import logging

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.stats import without_table
from bot.slack import live_plan
from bot.slack.post import post_message

log = logging.getLogger(__name__)


async def show_finished(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    plan: live_plan.RunPlan,
    *,
    text: str,
    blocks: list[dict[str, object]],
    ending: str,
) -> str | None:
    """A finished run's end: the summary (`text`, `blocks`) on its parent, then its plan stream
    stopped with `ending`. Called under the run's parent lock by the one job that reports the
    run, so these are the parent's last edits. What Slack refused (show_summary), or None."""
    run = plan.run
    if run.channel_id is None or run.parent_ts is None:
        return None
    refused = await show_summary(
        client,
        run_id=run.id,
        channel_id=run.channel_id,
        parent_ts=run.parent_ts,
        text=text,
        blocks=blocks,
    )
    await live_plan.close(pool, client, plan, ending=ending, stopped=False)
    return refused


async def show_summary(
    client: AsyncWebClient,
    *,
    run_id: int,
    channel_id: str,
    parent_ts: str,
    text: str,
    blocks: list[dict[str, object]],
) -> str | None:
    """The summary replaces the progress on the parent; when Slack refuses that edit, it is
    posted as a new message instead, so a completed run's summary is never lost."""
    try:
        await client.chat_update(channel=channel_id, ts=parent_ts, text=text, blocks=blocks)
        return None
    except SlackApiError as exc:
        log.warning("could not update run %d's parent: %s", run_id, _code(exc))
        refused_table = _code(exc) in {"invalid_blocks", "msg_blocks_too_long"}
        if refused_table and any(b.get("type") == "table" for b in blocks):
            # a workspace without table blocks (or a table too long for Slack's undocumented
            # total): today's layout, the sections below the table
            blocks = without_table(blocks)
            try:
                await client.chat_update(channel=channel_id, ts=parent_ts, text=text, blocks=blocks)
                return None
            except SlackApiError as again:
                log.warning("could not update run %d's parent: %s", run_id, _code(again))
    try:
        await post_message(client, channel=channel_id, text=text, blocks=blocks)
        return None
    except SlackApiError as exc:
        log.warning("could not post run %d's summary: %s", run_id, _code(exc))
    # only logged by both callers (scenario and simulation runs): nothing could be posted
    return "complete, but Slack did not take its summary"


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown"
