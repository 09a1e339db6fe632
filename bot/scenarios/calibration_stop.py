"""Stop on a calibration sweep's parent message: the sweep is marked stopped and its waiting
cell jobs are deleted in one transaction, so nothing new starts (a cell being answered finishes
and is stored; a cell job that starts afterwards finds the sweep stopped and does nothing). The
parent then says who stopped it after how many samples. A stopped sweep posts no figures: they
would miss whole settings, and a kept calibration becomes the one the next is compared with."""

from __future__ import annotations

import logging
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.calibration import stopped_message
from bot.errors import UserError
from storage import calibration_runs as runs_repo
from storage.calibration_runs import CalibrationRunNotFound

log = logging.getLogger(__name__)

# why a Stop did nothing, by the sweep's status
NOT_RUNNING: Final = {
    "running": "Calibration #{id} is posting its figures; nothing to stop.",
    "completed": "Calibration #{id} has finished; nothing to stop.",
    "failed": "Calibration #{id} has ended already; nothing to stop.",
    "stopped": "Calibration #{id} was stopped already.",
}


async def stop(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, run_id: int, user_id: str
) -> str:
    """What to tell the person who pressed Stop on sweep `run_id` of `team_id`."""
    try:
        run = await runs_repo.get_run(pool, team_id=team_id, run_id=run_id)
    except CalibrationRunNotFound:
        raise UserError(f"There is no calibration #{run_id} in this workspace.") from None
    if run.channel_id is None:
        # `romashka calibrate` waits for its sweep's report; it is stopped where it runs
        raise UserError(f"Calibration #{run_id} runs from `romashka calibrate`; stop it there.")
    stopped = await runs_repo.stop_run(
        pool, team_id=team_id, run_id=run_id, user_id=user_id, total=run.total
    )
    if stopped is None:
        now = await runs_repo.get_run(pool, team_id=team_id, run_id=run_id)
        return NOT_RUNNING.get(now.status, NOT_RUNNING["failed"]).format(id=run_id)
    if stopped.channel_id is not None and stopped.parent_ts is not None:
        text, blocks = stopped_message(
            run_id=run_id,
            label=run.label,
            traits=run.traits,
            user_id=user_id,
            done=stopped.done,
            total=stopped.total,
        )
        # waits for a progress edit in flight (which then finds the sweep stopped and edits
        # nothing more), so this is the parent's last edit
        async with runs_repo.parent_lock(pool, run_id=run_id, wait=True):
            try:
                await client.chat_update(
                    channel=stopped.channel_id, ts=stopped.parent_ts, text=text, blocks=blocks
                )
            except SlackApiError as exc:
                log.warning(
                    "calibration %d: stopped parent not shown: %s",
                    run_id,
                    exc.response.get("error"),
                )
    return f"Stopped calibration #{run_id} after {stopped.done} of {stopped.total} samples."
