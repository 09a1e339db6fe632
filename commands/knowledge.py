"""`/bot knowledge`: edit a profile's company knowledge (form, quick add/remove) and list it;
the use cases are in `bot.persona.knowledge_edits`."""

from __future__ import annotations

import logging
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.knowledge import FormContext
from bot.domain.knowledge import ANSWER_MAX, LINE_MAX, QUESTION_MAX
from bot.errors import UserError
from bot.persona import knowledge_edits as edits
from bot.persona.knowledge_edits import ProfileNotFound
from bot.slack.roles import NOT_AN_EDITOR, is_editor
from bot.startup.deps import Deps
from commands import payload
from commands.deadlines import ROLE_CHECK_S, ROLE_CHECK_TOO_SLOW, SAVE_TOO_SLOW, AckBudget
from commands.parse import Parsed, quoted, trailing_profile
from commands.replies import confirm_text, open_view
from commands.request import Reply, SlashRequest

log = logging.getLogger(__name__)

PROFILE_GONE: Final = "This profile no longer exists in this workspace."

USAGE: Final = (
    "Usage: `/bot knowledge [profile]` opens the form; `/bot knowledge show [profile]`; "
    '`/bot knowledge add faq "question" "answer" [profile]`; '
    '`/bot knowledge add policy "text" [profile]`; `/bot knowledge remove F3 [profile]`. '
    "The profile can also come first: `/bot knowledge @Sales show`."
)
FAQ_USAGE: Final = (
    'Usage: `/bot knowledge add faq "question" "answer" [profile]`, each in its own quotes.'
)
POLICY_USAGE: Final = 'Usage: `/bot knowledge add policy "text" [profile]`, in quotes.'
REMOVE_USAGE: Final = (
    "Usage: `/bot knowledge remove F3 [profile]` (the ids are in `/bot knowledge show`)."
)
SHOW_USAGE: Final = "Usage: `/bot knowledge show [profile]`."


async def handle(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    action, _, rest = parsed.rest.partition(" ")
    rest = rest.strip()
    if action.lower() == "show":
        return await show(deps, req, trailing_profile(parsed.profile, rest, usage=SHOW_USAGE))
    if action.lower() == "add":
        return await add(deps, req, parsed.profile, rest)
    if action.lower() == "remove":
        return await remove(deps, req, parsed.profile, rest)
    if rest or (action and parsed.profile):
        raise UserError(USAGE)
    return await open_form(deps, client, req, parsed.profile or (action or None))


async def show(deps: Deps, req: SlashRequest, name: str | None) -> Reply:
    text, blocks = await edits.show(
        deps.pool, team_id=req.team_id, channel_id=req.channel_id, name=name
    )
    return Reply(text, blocks)


def _quoted_values(
    raw: str, *, leading: str | None, count: int, usage: str
) -> tuple[list[str], str | None]:
    """`"a" "b" [profile]`: exactly `count` quoted values, then the profile if named last."""
    parts = quoted(raw, usage=usage)
    if parts is None or len(parts[0]) != count:
        raise UserError(usage)
    values, tail = parts
    return values, trailing_profile(leading, tail, usage=usage)


async def add(deps: Deps, req: SlashRequest, name: str | None, raw: str) -> Reply:
    kind, _, rest = raw.partition(" ")
    kind = kind.lower()
    if kind not in {"faq", "policy"}:
        raise UserError(USAGE)
    usage = FAQ_USAGE if kind == "faq" else POLICY_USAGE
    values, name = _quoted_values(rest, leading=name, count=2 if kind == "faq" else 1, usage=usage)
    if kind == "faq":
        question, answer = values
        if len(question) > QUESTION_MAX or len(answer) > ANSWER_MAX:
            raise UserError(
                f"Questions are at most {QUESTION_MAX} characters and answers at most "
                f"{ANSWER_MAX:,}."
            )
    elif len(values[0]) > LINE_MAX:
        raise UserError(f"A policy is at most {LINE_MAX} characters.")
    told = await edits.add(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        name=name,
        kind=kind,
        values=values,
    )
    return Reply(told)


async def remove(deps: Deps, req: SlashRequest, name: str | None, raw: str) -> Reply:
    first, _, rest = raw.strip().partition(" ")
    ref = first.strip("`[]").upper()
    if not ref:
        raise UserError(REMOVE_USAGE)
    name = trailing_profile(name, rest, usage=REMOVE_USAGE)
    told = await edits.remove(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        name=name,
        ref=ref,
    )
    return Reply(told)


async def open_form(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, name: str | None
) -> Reply | None:
    view = await edits.edit_form(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        response_url=req.response_url,
        name=name,
    )
    return await open_view(client, trigger_id=req.trigger_id, view=view)


def _form_error(message: str) -> dict[str, str]:
    return {ids.KNOWLEDGE_COMPANY: message}


async def handle_submit(
    deps: Deps, *, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, team_id: str
) -> None:
    budget = AckBudget()
    view: dict[str, Any] = body["view"]
    user_id = str(body["user"]["id"])
    nul = payload.nul_errors(view)
    if nul:
        await ack(response_action="errors", errors=nul)
        return
    try:
        context = FormContext.load(view.get("private_metadata", ""))
    except (ValueError, KeyError, TypeError):
        await ack(response_action="errors", errors=_form_error(PROFILE_GONE))
        return
    try:
        allowed = await budget.run(
            is_editor(deps, client, team_id=team_id, user_id=user_id), at_most=ROLE_CHECK_S
        )
    except TimeoutError:
        log.warning("role check took too long; the knowledge form stays open")
        await ack(response_action="errors", errors=_form_error(ROLE_CHECK_TOO_SLOW))
        return
    if not allowed:
        await ack(response_action="errors", errors=_form_error(NOT_AN_EDITOR))
        return
    try:
        text, errors = await budget.run(
            edits.save_form(deps.pool, team_id=team_id, user_id=user_id, context=context, view=view)
        )
    except ProfileNotFound:
        await ack(
            response_action="errors",
            errors=_form_error(PROFILE_GONE),
        )
        return
    except TimeoutError:
        log.warning("saving the knowledge form took too long")
        await ack(response_action="errors", errors=_form_error(SAVE_TOO_SLOW))
        return
    except Exception:
        log.exception("saving knowledge failed")
        await ack(
            response_action="errors",
            errors=_form_error("Saving failed; nothing was changed. Try again."),
        )
        return
    if text is None:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=text,
    )
