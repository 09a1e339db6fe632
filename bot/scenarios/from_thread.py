"""Saving a real conversation as a scenario: the "Save as scenario" message shortcut on any
message of a `/bot test` thread or a DM conversation, and the button under each answer.

The modal opens at once with a "drafting…" state (a trigger_id lasts three seconds, the judge
takes longer), and is replaced by the scenario form prefilled with the conversation's customer
messages, a name and the expected behaviours the judge model drafted. When the judge fails or
is slow, the form comes without drafted behaviours and says why; when the message is not in a
conversation of ours, the modal says so. Save is the scenario form's own (validation, limits,
the unique name), so nothing here writes a scenario.

The customer messages are the stored questions of the thread's answers, in order: exactly what
was answered, team-scoped, without the DM's `use …` / `save as scenario …` commands or edits,
and with no Slack call (conversations.replies is Tier 3)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids, limits
from bot.blocks import dm as dm_texts
from bot.blocks.common import counted, escape, truncate
from bot.blocks.scenario_draft import (
    DraftContext,
    DraftForm,
    SimulationDraftForm,
    draft_form,
    drafted_note,
    drafted_persona_note,
    drafting_view,
    notice_view,
    simulation_draft_form,
)
from bot.blocks.scenarios import FormContext
from bot.domain.scenarios import MESSAGE_MAX, MESSAGES_MAX, NAME_MAX
from bot.domain.simulation import Persona
from bot.errors import UserError
from bot.messages import GENERIC_FAILURE
from bot.model import behaviour_drafter, persona_drafter
from bot.model.judge_call import JudgeFailed
from bot.model.llm import LLM, LLMError, LLMErrorKind
from bot.model.persona_drafter import DraftedSimulation
from bot.scenarios import library
from bot.simulation import library as simulations
from storage import results as results_repo
from storage.results import ResultNotFound

log = logging.getLogger(__name__)

# how long the person waits for the judge's draft before the form comes without one
DRAFT_WAIT_S: Final = 30.0
# the kinds of answer a conversation holds (a /bot test, its follow-ups, a DM's messages)
CONVERSATION_KINDS: Final = frozenset({"test", "followup"})
# a name made from the first message: a few words, not the whole message
FALLBACK_NAME_CHARS: Final = 40

NOT_A_CONVERSATION: Final = (
    "*Save as scenario* works on the messages of a `/bot test` thread or of a conversation "
    "in my Messages tab, and this message is not in one. Start one with "
    "`/bot test <a customer's message>`, then use the shortcut on any message of its thread."
)
NOT_HERE: Final = "That answer does not exist in this workspace."
NOTHING_ANSWERED: Final = (
    "This conversation has no answered customer message yet, so there is nothing to save."
)
CHANNEL_DESCRIPTION: Final = "Saved from a /bot test thread."
OPEN_EXPIRED: Final = "The form took too long to open. Please use *Save as scenario* again."
OPEN_REFUSED: Final = "Slack did not open the form. Please try again in a moment."
# views.update answers these when the person closed the modal or something else changed it
GONE_ERRORS: Final = frozenset({"not_found", "hash_conflict"})


@dataclass(frozen=True, slots=True)
class Conversation:
    messages: list[str]  # one line each, as the form takes them
    left_out: int  # later messages that did not fit the form
    shortened: int  # messages cut to fit


def fit(questions: Sequence[str]) -> Conversation:
    """The customer messages as the form holds them: each on one line (the form reads one
    message per line), at most MESSAGES_MAX, all within one input's characters."""
    each = min(MESSAGE_MAX, limits.PLAIN_TEXT_INPUT_MAX)
    kept: list[str] = []
    used = shortened = 0
    lines = [" ".join(q.split()) for q in questions]
    lines = [line for line in lines if line]
    for line in lines:
        cut = truncate(line, each)
        needed = len(cut) + (1 if kept else 0)  # the line break before it
        if len(kept) == MESSAGES_MAX or used + needed > each:
            break
        kept.append(cut)
        used += needed
        shortened += cut != line
    return Conversation(kept, len(lines) - len(kept), shortened)


async def conversation(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, thread_ts: str
) -> Conversation:
    """The thread's customer messages; UserError when it is not one of our conversations or
    nothing in it was answered yet."""
    version = await results_repo.thread_version(
        pool, team_id=team_id, channel_id=channel_id, thread_ts=thread_ts
    )
    if version is None:
        raise UserError(NOT_A_CONVERSATION)
    results = await results_repo.thread_results(
        pool, team_id=team_id, channel_id=channel_id, thread_ts=thread_ts
    )
    found = fit([r.question for r in results if r.kind in CONVERSATION_KINDS])
    if not found.messages:
        raise UserError(NOTHING_ANSWERED)
    return found


async def thread_of_answer(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> tuple[str, str]:
    """The channel and thread of a stored answer (the button under it carries its id)."""
    try:
        result = await results_repo.get_result(pool, team_id=team_id, result_id=result_id)
    except ResultNotFound:
        raise UserError(NOT_HERE) from None
    if not result.channel_id or not result.thread_ts:
        raise UserError(NOT_A_CONVERSATION)
    return result.channel_id, result.thread_ts


def fallback_name(first_message: str) -> str:
    name = behaviour_drafter.clean_phrase(first_message, FALLBACK_NAME_CHARS)
    return name if name and name.lower() != "all" else "Saved conversation"


async def free_name(pool: asyncpg.Pool, *, team_id: str, name: str) -> str:
    """`name`, or `name 2`, `name 3`… when the workspace has a scenario (scripted or simulated:
    a name picks one) by that name: the person may still change it, and Save refuses a name
    taken meanwhile."""
    taken = {s.name.lower() for s in await library.every(pool, team_id=team_id)}
    taken |= {s.name.lower() for s in await simulations.every(pool, team_id=team_id)}
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        suffix = f" {n}"
        candidate = name[: NAME_MAX - len(suffix)].rstrip() + suffix
    return candidate


@dataclass(frozen=True, slots=True)
class Draft:
    name: str
    behaviours: list[str]
    note: str


async def draft(llm: LLM | None, messages: Sequence[str], *, wait_s: float) -> Draft:
    """The judge's draft, or an empty one with a note saying why there is none."""
    if llm is None or not llm.configured:
        reason = LLMError(LLMErrorKind.NOT_CONFIGURED).message
        return Draft(
            "", [], f"Nothing was drafted: {escape(reason)} Add the expected behaviours yourself."
        )
    try:
        drafted = await asyncio.wait_for(behaviour_drafter.draft(llm, messages), timeout=wait_s)
    except TimeoutError:
        log.warning("drafting a scenario took longer than %.0f s", wait_s)
        return Draft(
            "",
            [],
            f"The judge model did not draft the expected behaviours within {wait_s:g} s; "
            "add them yourself.",
        )
    if isinstance(drafted, JudgeFailed):
        reason = drafted.reason.rstrip(". ")
        return Draft(
            "",
            [],
            f"The judge model could not draft the expected behaviours ({escape(reason)}); "
            "add them yourself.",
        )
    note = drafted_note(
        judge_model=llm.judge_model, messages=len(messages), behaviours=len(drafted.behaviours)
    )
    return Draft(drafted.name, drafted.behaviours, note)


NO_PERSONA: Final = Persona(who="", mood="", expertise="", wants="", gives_up_when="")


async def draft_simulation(
    llm: LLM | None, messages: Sequence[str], *, wait_s: float
) -> tuple[DraftedSimulation, str]:
    """The judge's simulated customer, or an empty one, with a note saying which."""
    empty = DraftedSimulation(name="", persona=NO_PERSONA, goal="", behaviours=[])
    what = "the simulated customer"
    if llm is None or not llm.configured:
        reason = LLMError(LLMErrorKind.NOT_CONFIGURED).message
        return empty, f"Nothing was drafted: {escape(reason)} Describe the customer yourself."
    try:
        drafted = await asyncio.wait_for(persona_drafter.draft(llm, messages), timeout=wait_s)
    except TimeoutError:
        log.warning("drafting a simulated customer took longer than %.0f s", wait_s)
        return empty, (
            f"The judge model did not draft {what} within {wait_s:g} s; describe it yourself."
        )
    if isinstance(drafted, JudgeFailed):
        reason = drafted.reason.rstrip(". ")
        return empty, (
            f"The judge model could not draft {what} ({escape(reason)}); describe it yourself."
        )
    p = drafted.persona
    missing = sum(not v for v in (p.who, p.mood, p.expertise, p.wants, p.gives_up_when))
    missing += not drafted.goal
    note = drafted_persona_note(
        judge_model=llm.judge_model, messages=len(messages), missing=missing
    )
    return drafted, note


def _fit_note(found: Conversation) -> list[str]:
    if not (found.left_out or found.shortened):
        return []
    parts = []
    if found.left_out:
        parts.append(f"the last {counted(found.left_out, 'message')} left out")
    if found.shortened:
        parts.append(f"{counted(found.shortened, 'message')} shortened")
    return [
        f"The form holds at most {MESSAGES_MAX} messages and "
        f"{limits.PLAIN_TEXT_INPUT_MAX:,} characters of them: {' and '.join(parts)}."
    ]


async def prepared_form(
    pool: asyncpg.Pool,
    llm: LLM | None,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    response_url: str | None,
    wait_s: float,
    kind: str = ids.SCENARIO_KIND_SINGLE,
) -> dict[str, object]:
    """The form of `kind` drafted from the thread (single messages, or a simulated customer)."""
    found = await conversation(pool, team_id=team_id, channel_id=channel_id, thread_ts=thread_ts)
    context = DraftContext(FormContext(None, channel_id, response_url), thread_ts)
    if kind == ids.SCENARIO_KIND_SIMULATED:
        simulated, said = await draft_simulation(llm, found.messages, wait_s=wait_s)
        name = await free_name(
            pool, team_id=team_id, name=simulated.name or fallback_name(found.messages[0])
        )
        return simulation_draft_form(
            SimulationDraftForm(
                name=name,
                persona=simulated.persona,
                goal=simulated.goal,
                behaviours=simulated.behaviours,
                notes=[said],
            ),
            context=context,
        )
    drafted = await draft(llm, found.messages, wait_s=wait_s)
    notes = [drafted.note, *_fit_note(found)]
    name = await free_name(
        pool, team_id=team_id, name=drafted.name or fallback_name(found.messages[0])
    )
    in_dm = channel_id.startswith("D")
    form = DraftForm(
        name=name,
        description=dm_texts.SAVED_DESCRIPTION if in_dm else CHANNEL_DESCRIPTION,
        messages=found.messages,
        behaviours=drafted.behaviours,
        notes=notes,
    )
    return draft_form(form, context=context)


async def open_draft(
    pool: asyncpg.Pool,
    llm: LLM | None,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    trigger_id: str,
    response_url: str | None,
    wait_s: float | None = None,
) -> str | None:
    """Open the modal, then fill it (waiting at most `wait_s`, default DRAFT_WAIT_S, for the
    draft). Returns what to tell the person when no modal opened."""
    try:
        opened = await client.views_open(trigger_id=trigger_id, view=drafting_view())
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("views.open failed: %s", error)
        return OPEN_EXPIRED if error == "expired_trigger_id" else OPEN_REFUSED
    view = opened.get("view") or {}
    view_id, view_hash = str(view.get("id", "")), view.get("hash")
    final = await _final_view(
        pool,
        llm,
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        response_url=response_url,
        wait_s=wait_s,
        kind=ids.SCENARIO_KIND_SINGLE,
    )
    await _replace(client, view_id=view_id, view_hash=view_hash, view=final)
    return None


async def redraft(
    pool: asyncpg.Pool,
    llm: LLM | None,
    client: AsyncWebClient,
    *,
    team_id: str,
    view: dict[str, object],
    kind: str,
    wait_s: float | None = None,
) -> None:
    """The kind choice on a drafted form: the modal shows "drafting…" (no choice, so one draft
    at a time), then the form of the chosen kind drafted from the same thread. What was typed
    into the other form is not carried over. A stale or forged form is left as it is: the
    thread is looked up again within the signed workspace."""
    if kind not in (ids.SCENARIO_KIND_SINGLE, ids.SCENARIO_KIND_SIMULATED):
        return
    try:
        context = DraftContext.load(str(view.get("private_metadata", "")))
    except (ValueError, KeyError, TypeError):
        log.info("a kind choice on a form without its thread; left as it is")
        return
    view_id = str(view.get("id", ""))
    try:
        shown = await client.views_update(
            view_id=view_id,
            hash=str(view["hash"]) if view.get("hash") else None,
            view=drafting_view(kind),
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.info("the drafted form changed or closed before drafting again (%s)", error)
        return
    final = await _final_view(
        pool,
        llm,
        team_id=team_id,
        channel_id=context.form.channel_id,
        thread_ts=context.thread_ts,
        response_url=context.form.response_url,
        wait_s=wait_s,
        kind=kind,
    )
    view_hash = (shown.get("view") or {}).get("hash")
    await _replace(client, view_id=view_id, view_hash=view_hash, view=final)


async def _final_view(
    pool: asyncpg.Pool,
    llm: LLM | None,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    response_url: str | None,
    wait_s: float | None,
    kind: str,
) -> dict[str, object]:
    try:
        return await prepared_form(
            pool,
            llm,
            team_id=team_id,
            channel_id=channel_id,
            thread_ts=thread_ts,
            response_url=response_url,
            wait_s=DRAFT_WAIT_S if wait_s is None else wait_s,
            kind=kind,
        )
    except UserError as exc:
        return notice_view(str(exc))
    except Exception:
        log.exception("could not prepare a scenario from a conversation")
        return notice_view(GENERIC_FAILURE)


async def _replace(
    client: AsyncWebClient, *, view_id: str, view_hash: object, view: dict[str, object]
) -> None:
    """The drafting modal becomes `view`. A person who closed it meanwhile has nothing to see;
    a view Slack refuses becomes the generic failure, so the modal never stays "drafting"."""
    try:
        await client.views_update(
            view_id=view_id, hash=str(view_hash) if view_hash else None, view=view
        )
        return
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error in GONE_ERRORS:
            log.info("the scenario draft's modal was closed before the draft came (%s)", error)
            return
        log.warning("views.update refused the scenario draft: %s", error)
    try:
        await client.views_update(view_id=view_id, view=notice_view(GENERIC_FAILURE))
    except SlackApiError:
        log.exception("could not tell the person the scenario draft failed")
