"""`/bot config`: open the profile modal, validate its submission inline, save a version."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.config_modal import ModalContext, read_state
from bot.errors import UserError
from bot.persona import editing
from bot.persona.editing import ProfileNotFound
from bot.persona.validation import fields_from_form
from bot.slack.roles import NOT_AN_EDITOR, is_editor
from bot.startup.deps import Deps
from commands import payload
from commands.deadlines import ROLE_CHECK_S, ROLE_CHECK_TOO_SLOW, SAVE_TOO_SLOW, AckBudget
from commands.parse import Parsed
from commands.profiles import resolve
from commands.replies import confirm_text, open_view
from commands.request import Reply, SlashRequest

log = logging.getLogger(__name__)


async def open_modal(
    deps: Deps,
    client: AsyncWebClient,
    *,
    team_id: str,
    profile_id: int,
    trigger_id: str,
    channel_id: str,
    response_url: str | None,
) -> Reply | None:
    view = await editing.form(
        deps.pool,
        team_id=team_id,
        profile_id=profile_id,
        channel_id=channel_id,
        response_url=response_url,
    )
    return await open_view(client, trigger_id=trigger_id, view=view)


async def open_from_command(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    words = parsed.rest.split()
    if len(words) > 1 or (words and parsed.profile):
        raise UserError("Usage: `/bot config [profile]` — for example `/bot config Support`.")
    profile = await resolve(deps, req, parsed.profile or (words[0] if words else None))
    return await open_modal(
        deps,
        client,
        team_id=req.team_id,
        profile_id=profile.id,
        trigger_id=req.trigger_id,
        channel_id=req.channel_id,
        response_url=req.response_url,
    )


def _form_error(message: str) -> dict[str, str]:
    return {ids.FIELD_BOT_NAME: message}


async def handle_submit(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    team_id: str,
) -> None:
    budget = AckBudget()
    view: dict[str, Any] = body["view"]
    user_id = str(body["user"]["id"])
    nul = payload.nul_errors(view)
    if nul:
        await ack(response_action="errors", errors=nul)
        return
    try:
        context = ModalContext.load(view.get("private_metadata", ""))
    except (ValueError, KeyError, TypeError):
        await ack(response_action="errors", errors=_form_error("This form is out of date."))
        return
    fields, errors = fields_from_form(read_state(view))
    if fields is None:
        await ack(response_action="errors", errors=errors)
        return
    try:
        allowed = await budget.run(
            is_editor(deps, client, team_id=team_id, user_id=user_id), at_most=ROLE_CHECK_S
        )
    except TimeoutError:
        log.warning("role check took too long; the config form stays open")
        await ack(response_action="errors", errors=_form_error(ROLE_CHECK_TOO_SLOW))
        return
    if not allowed:
        await ack(response_action="errors", errors=_form_error(NOT_AN_EDITOR))
        return
    try:
        text = await budget.run(
            editing.save(
                deps.pool, team_id=team_id, user_id=user_id, context=context, fields=fields
            )
        )
    except ProfileNotFound:
        await ack(
            response_action="errors",
            errors=_form_error("This profile does not exist in this workspace any more."),
        )
        return
    except TimeoutError:
        log.warning("saving the config modal took too long")
        await ack(response_action="errors", errors=_form_error(SAVE_TOO_SLOW))
        return
    except Exception:
        log.exception("saving the config modal failed")
        await ack(
            response_action="errors",
            errors=_form_error("Saving failed; nothing was changed. Press Save to try again."),
        )
        return
    await ack()

    await confirm(client, context=context, user_id=user_id, text=text)


async def confirm(
    client: AsyncWebClient, *, context: ModalContext, user_id: str, text: str
) -> None:
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=text,
    )
