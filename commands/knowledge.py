"""`/bot knowledge`: edit a profile's company knowledge (form, quick add/remove) and list it.
Every change saves a new profile version, like any other edit."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.common import escape
from bot.blocks.knowledge import FormContext, form, listing, read_form
from bot.blocks.profile import applied_on_top
from bot.domain.knowledge import (
    ANSWER_MAX,
    LINE_MAX,
    QUESTION_MAX,
    Knowledge,
    KnowledgeItem,
    validate,
)
from bot.domain.profile import Profile, ProfileVersion
from bot.errors import UserError
from bot.persona.merge import MergedKnowledge, merge_knowledge
from bot.slack.roles import NOT_AN_EDITOR, is_editor
from bot.startup.deps import Deps
from commands import payload
from commands.deadlines import ROLE_CHECK_S, ROLE_CHECK_TOO_SLOW, SAVE_TOO_SLOW, AckBudget
from commands.parse import Parsed, quoted, trailing_profile
from commands.profiles import resolve
from commands.replies import confirm_text, open_view
from commands.request import Reply, SlashRequest
from storage import knowledge as repo
from storage import profiles as profiles_repo
from storage.errors import ProfileNotFound, VersionNotFound
from storage.profiles import Edit, Edited

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
    profile = await resolve(deps, req, name)
    version = await profiles_repo.current_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id
    )
    items = await repo.items(deps.pool, team_id=req.team_id, version_id=version.id)
    text, blocks = listing(items, label=version.label)
    return Reply(text, blocks)


def _knowledge_edit(current: ProfileVersion, knowledge: Knowledge, *, note: str) -> Edit:
    return Edit(current.fields, note=note, knowledge=knowledge.items())


def _moved_on(seen: Profile, edited: Edited) -> str:
    if edited.base.version == seen.current_version:
        return ""
    return " " + applied_on_top(profile_name=seen.name, version=edited.base.version, replaced=[])


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
    profile = await resolve(deps, req, name)

    def added_ref(current: Knowledge) -> str:
        if kind == "faq":
            return f"F{len(current.faqs) + 1}"
        return f"P{len(current.policies) + 1}"

    def append(version: ProfileVersion, items: list[KnowledgeItem]) -> Edit:
        # numbered on the current knowledge, read under the lock: four people adding at once
        # get four items, P4 to P7, not four claims of P4 with one survivor
        current = Knowledge.of(items)
        if kind == "faq":
            updated = replace(current, faqs=[*current.faqs, (values[0], values[1])])
        else:
            updated = replace(current, policies=[*current.policies, values[0]])
        return _knowledge_edit(version, updated, note=f"knowledge: added {added_ref(current)}")

    edited = await profiles_repo.edit_current(
        deps.pool, team_id=req.team_id, profile_id=profile.id, user_id=req.user_id, change=append
    )
    assert edited.saved is not None
    added = added_ref(Knowledge.of(edited.base_knowledge))
    return Reply(
        f"Added `{added}` to the knowledge of *{escape(edited.saved.label)}*."
        + _moved_on(profile, edited)
    )


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
    seen = {
        i.ref: i for i in await repo.items(deps.pool, team_id=req.team_id, version_id=version.id)
    }
    if ref not in seen:
        raise UserError(
            f"*{escape(version.label)}* has no knowledge item `{escape(ref)}`. "
            "`/bot knowledge show` lists them."
        )
    target = seen[ref]

    def drop(current: ProfileVersion, items: list[KnowledgeItem]) -> Edit:
        # the id names an item of the version read above; someone may have renumbered the
        # items since, so the item is found again by what it says, not by its id
        index = next((n for n, i in enumerate(items) if _same_item(i, target)), None)
        if index is None:
            raise UserError(
                f"`{ref}` of {escape(version.label)} is no longer in *{escape(current.label)}*: "
                "someone removed or changed it meanwhile. `/bot knowledge show` lists the items."
            )
        kept = [i for n, i in enumerate(items) if n != index]
        return _knowledge_edit(current, Knowledge.of(kept), note=f"knowledge: removed {ref}")

    edited = await profiles_repo.edit_current(
        deps.pool, team_id=req.team_id, profile_id=profile.id, user_id=req.user_id, change=drop
    )
    assert edited.saved is not None
    seen_profile = replace(profile, current_version=version.version)
    return Reply(
        f"Removed `{ref}` from the knowledge of *{escape(edited.saved.label)}*; the other items "
        "were renumbered (`/bot knowledge show`)." + _moved_on(seen_profile, edited)
    )


def _same_item(a: KnowledgeItem, b: KnowledgeItem) -> bool:
    return (a.kind, a.body, a.question) == (b.kind, b.body, b.question)


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
        context=FormContext(profile.id, req.channel_id, req.response_url, version.version),
    )
    return await open_view(client, trigger_id=req.trigger_id, view=view)


def _form_error(message: str) -> dict[str, str]:
    return {ids.KNOWLEDGE_COMPANY: message}


async def _opened_on(deps: Deps, *, team_id: str, context: FormContext) -> Knowledge | None:
    """The knowledge the form showed, or None for a form that does not say which version."""
    if context.base_version <= 0:
        return None
    try:
        opened = await profiles_repo.get_version(
            deps.pool, team_id=team_id, profile_id=context.profile_id, version=context.base_version
        )
    except VersionNotFound:
        return None
    return Knowledge.of(await repo.items(deps.pool, team_id=team_id, version_id=opened.id))


async def _save_form(
    deps: Deps, *, team_id: str, user_id: str, context: FormContext, view: dict[str, Any]
) -> tuple[Edited | None, MergedKnowledge | None, dict[str, str]]:
    """Validate the form against the knowledge it was opened on and apply what the person
    changed on top of the current version. Returns the inline errors when it is invalid."""
    opened = await _opened_on(deps, team_id=team_id, context=context)
    if opened is None:
        current_version = await profiles_repo.current_version(
            deps.pool, team_id=team_id, profile_id=context.profile_id
        )
        opened = Knowledge.of(
            await repo.items(deps.pool, team_id=team_id, version_id=current_version.id)
        )
    # fields left out of the form (too long for an input) are the opened version's, unchanged
    ours, errors = validate(read_form(view), keep=opened)
    if ours is None:
        return None, None, errors
    merged: MergedKnowledge | None = None

    def apply(current: ProfileVersion, items: list[KnowledgeItem]) -> Edit | None:
        nonlocal merged
        assert ours is not None and opened is not None
        now = Knowledge.of(items)
        merged = merge_knowledge(base=opened, ours=ours, current=now)
        if merged.knowledge == now:
            return None
        return Edit(current.fields, note="knowledge edited", knowledge=merged.knowledge.items())

    edited = await profiles_repo.edit_current(
        deps.pool, team_id=team_id, profile_id=context.profile_id, user_id=user_id, change=apply
    )
    return edited, merged, {}


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
        edited, merged, errors = await budget.run(
            _save_form(deps, team_id=team_id, user_id=user_id, context=context, view=view)
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
    if edited is None or merged is None:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    base, saved = edited.base, edited.saved
    if saved is None:
        text = f"No changes: *{escape(base.label)}* keeps its knowledge."
    else:
        text = (
            f"Saved the knowledge as *{escape(saved.label)}*: "
            f"{len(merged.knowledge.items())} items (`/bot knowledge show` lists them)."
        )
    if saved is not None and context.base_version and base.version != context.base_version:
        text += "\n" + applied_on_top(
            profile_name=base.profile_name, version=base.version, replaced=[]
        )
        if merged.both_changed:
            text += (
                f"\nYou and v{base.version} both changed: {', '.join(merged.both_changed)}. "
                "Lines you added or removed were applied to its lines; a name you changed "
                "replaced its."
            )
    await confirm_text(
        client,
        response_url=context.response_url,
        channel_id=context.channel_id,
        user_id=user_id,
        text=text,
    )
