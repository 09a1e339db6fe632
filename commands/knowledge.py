"""`/bot knowledge`: edit a profile's company knowledge (form, quick add/remove) and list it.
Every change saves a new profile version, like any other edit."""

from __future__ import annotations

import logging
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.common import escape
from bot.blocks.knowledge import FormContext, form, listing, read_form
from bot.deps import Deps
from bot.errors import UserError
from bot.knowledge import ANSWER_MAX, LINE_MAX, QUESTION_MAX, Knowledge, validate
from bot.roles import NOT_AN_EDITOR, is_editor
from commands import payload
from commands.parse import Parsed, quoted, trailing_profile
from commands.profiles import resolve
from commands.replies import confirm_text
from commands.request import Reply, SlashRequest
from storage import knowledge as repo
from storage import profiles as profiles_repo
from storage.errors import ProfileNotFound
from storage.knowledge import KnowledgeItem

log = logging.getLogger(__name__)

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
    profile = await resolve(deps, req, name)
    version = await profiles_repo.current_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id
    )
    items = await repo.items(deps.pool, team_id=req.team_id, version_id=version.id)
    text, blocks = listing(items, label=version.label)
    return Reply(text, blocks)


async def _save(
    deps: Deps, *, team_id: str, profile_id: int, user_id: str, knowledge: Knowledge, note: str
) -> str:
    current = await profiles_repo.current_version(deps.pool, team_id=team_id, profile_id=profile_id)
    saved = await profiles_repo.save_version(
        deps.pool,
        team_id=team_id,
        profile_id=profile_id,
        fields=current.fields,
        user_id=user_id,
        note=note,
        knowledge=knowledge.items(),
    )
    return saved.label


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
    profile = await resolve(deps, req, name)
    version = await profiles_repo.current_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id
    )
    current = Knowledge.of(await repo.items(deps.pool, team_id=req.team_id, version_id=version.id))
    if kind == "faq":
        question, answer = values
        if len(question) > QUESTION_MAX or len(answer) > ANSWER_MAX:
            raise UserError(
                f"Questions are at most {QUESTION_MAX} characters and answers at most "
                f"{ANSWER_MAX:,}."
            )
        updated = Knowledge(
            current.company,
            current.industry,
            current.products,
            current.policies,
            [*current.faqs, (question, answer)],
        )
        added = f"F{len(updated.faqs)}"
    else:
        if len(values[0]) > LINE_MAX:
            raise UserError(f"A policy is at most {LINE_MAX} characters.")
        updated = Knowledge(
            current.company,
            current.industry,
            current.products,
            [*current.policies, values[0]],
            current.faqs,
        )
        added = f"P{len(updated.policies)}"
    label = await _save(
        deps,
        team_id=req.team_id,
        profile_id=profile.id,
        user_id=req.user_id,
        knowledge=updated,
        note=f"knowledge: added {added}",
    )
    return Reply(f"Added `{added}` to the knowledge of *{escape(label)}*.")


async def remove(deps: Deps, req: SlashRequest, name: str | None, raw: str) -> Reply:
    first, _, rest = raw.strip().partition(" ")
    ref = first.strip("`[]").upper()
    if not ref:
        raise UserError(REMOVE_USAGE)
    name = trailing_profile(name, rest, usage=REMOVE_USAGE)
    profile = await resolve(deps, req, name)
    version = await profiles_repo.current_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id
    )
    items = await repo.items(deps.pool, team_id=req.team_id, version_id=version.id)
    if ref not in {i.ref for i in items}:
        raise UserError(
            f"*{escape(version.label)}* has no knowledge item `{escape(ref)}`. "
            "`/bot knowledge show` lists them."
        )
    kept: list[KnowledgeItem] = [i for i in items if i.ref != ref]
    label = await _save(
        deps,
        team_id=req.team_id,
        profile_id=profile.id,
        user_id=req.user_id,
        knowledge=Knowledge.of(kept),
        note=f"knowledge: removed {ref}",
    )
    return Reply(
        f"Removed `{ref}` from the knowledge of *{escape(label)}*; the other items were "
        "renumbered (`/bot knowledge show`)."
    )


async def open_form(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, name: str | None
) -> Reply | None:
    profile = await resolve(deps, req, name)
    version = await profiles_repo.current_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id
    )
    knowledge = Knowledge.of(
        await repo.items(deps.pool, team_id=req.team_id, version_id=version.id)
    )
    view = form(
        knowledge,
        profile_name=profile.name,
        context=FormContext(profile.id, req.channel_id, req.response_url),
    )
    try:
        await client.views_open(trigger_id=req.trigger_id, view=view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        return Reply("Slack did not open the form in time. Please run the command again.")
    return None


async def handle_submit(
    deps: Deps, *, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, team_id: str
) -> None:
    view: dict[str, Any] = body["view"]
    user_id = str(body["user"]["id"])
    nul = payload.nul_errors(view)
    if nul:
        await ack(response_action="errors", errors=nul)
        return
    try:
        context = FormContext.load(view.get("private_metadata", ""))
        version = await profiles_repo.current_version(
            deps.pool, team_id=team_id, profile_id=context.profile_id
        )
    except (ValueError, KeyError, TypeError, ProfileNotFound):
        await ack(
            response_action="errors",
            errors={ids.KNOWLEDGE_COMPANY: "This profile no longer exists in this workspace."},
        )
        return
    if not await is_editor(deps, client, team_id=team_id, user_id=user_id):
        await ack(response_action="errors", errors={ids.KNOWLEDGE_COMPANY: NOT_AN_EDITOR})
        return
    current = Knowledge.of(await repo.items(deps.pool, team_id=team_id, version_id=version.id))
    knowledge, errors = validate(read_form(view), keep=current)
    if knowledge is None:
        await ack(response_action="errors", errors=errors)
        return
    if knowledge == current:
        await ack()
        text = f"No changes: *{escape(version.label)}* keeps its knowledge."
    else:
        try:
            label = await _save(
                deps,
                team_id=team_id,
                profile_id=context.profile_id,
                user_id=user_id,
                knowledge=knowledge,
                note="knowledge edited",
            )
        except Exception:
            log.exception("saving knowledge failed")
            await ack(
                response_action="errors",
                errors={ids.KNOWLEDGE_COMPANY: "Saving failed; nothing was changed. Try again."},
            )
            return
        await ack()
        text = (
            f"Saved the knowledge as *{escape(label)}*: {len(knowledge.items())} items "
            "(`/bot knowledge show` lists them)."
        )
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=text,
    )
