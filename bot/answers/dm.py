"""The app's DM as a customer chat: a person writes as a customer and the profile answers in
the message's thread, streamed, with the thread as the conversation. Each DM thread is stored
like a `/bot test` thread (its version in `test_threads`, each answer a result with metrics,
analysis and feedback), so follow-ups, Details and 👍 / 👎 are the same code. `use Support@3`
switches the profile or version for the rest of the thread.

Slack's agent messaging experience: the conversation lives in the Messages tab; a title per
thread (assistant.threads.setTitle), a status while the model writes (setStatus, which Slack
clears when the answer is posted) and suggested prompts when the tab is opened
(setSuggestedPrompts without `thread_ts`, as the agent view requires). None of them is needed
for an answer: a workspace that refuses one still gets the conversation. As with `/bot test`,
the process that heard the message queues its answer and a worker writes it (issue #16)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.answers import ask, follow_up
from bot.answers import thread as answering
from bot.answers.pipeline import RunContext
from bot.blocks import dm as texts
from bot.domain.profile import ProfileVersion
from bot.messages import NUL_IN_TEXT
from bot.persona.versions import resolve_version
from bot.scenarios import library
from bot.scenarios.form import validate
from storage import profiles as repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.scenarios import ScenarioNameTaken

log = logging.getLogger(__name__)

_USE = re.compile(r"^use(?:\s+(?P<spec>\S+))?\s*$", re.IGNORECASE)
_SAVE = re.compile(r"^save as scenario\b\s*(?P<name>.*)$", re.IGNORECASE | re.DOTALL)


def switch_spec(text: str) -> str | None:
    """`use Support@3` → "Support@3"; a bare `use` → ""; anything else is a customer's message."""
    match = _USE.match(text.strip())
    if match is None:
        return None
    return match.group("spec") or ""


def save_name(text: str) -> str | None:
    """`save as scenario Late delivery` → "Late delivery"; None for a customer's message."""
    match = _SAVE.match(text.strip())
    return None if match is None else match.group("name").strip()


async def save_as_scenario(
    ctx: RunContext,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user_id: str,
    name: str,
) -> str | None:
    """The conversation's customer messages, in order, become a scenario's messages (each
    then answered on its own in a run, as every scenario message is). Returns the reply;
    None when the message (`ts`) was already handled (a retry)."""
    if not await results_repo.claim_message(ctx.pool, team_id=team_id, channel_id=channel, ts=ts):
        return None
    results = await results_repo.thread_results(
        ctx.pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    messages = [" ".join(r.question.split()) for r in results if r.question.strip()]
    if not messages:
        return texts.NOTHING_TO_SAVE
    form, errors = validate(
        {
            ids.SCENARIO_NAME: name,
            ids.SCENARIO_DESCRIPTION: texts.SAVED_DESCRIPTION,
            ids.SCENARIO_MESSAGES: "\n".join(messages),
            ids.SCENARIO_BEHAVIOURS: "",
        }
    )
    if form is None:
        return " ".join(errors.values())
    try:
        saved = await library.save(
            ctx.pool, team_id=team_id, scenario_id=None, form=form, user_id=user_id
        )
    except ScenarioNameTaken:
        return texts.name_taken(name)
    return texts.saved(saved.name, len(saved.messages))


async def offer_prompts(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, channel: str
) -> None:
    """The Messages tab was opened: suggest a customer's first messages and picking a profile."""
    await scenarios_repo.ensure_seeded(pool, team_id=team_id)
    scenarios = await scenarios_repo.list_scenarios(pool, team_id=team_id)
    await _quietly(
        client.assistant_threads_setSuggestedPrompts(
            channel_id=channel,
            title=texts.PROMPTS_HEADING,
            prompts=texts.suggested_prompts(scenarios),
        ),
        what="suggested prompts",
    )


async def switch(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user_id: str,
    spec: str,
) -> str | None:
    """`use <spec>` in a DM thread: the thread answers as that version from now on. Returns the
    reply (None when the message `ts` was already handled); a bare `use` posts the profiles
    with a select to pick one (and returns None). Storage's not-found errors propagate."""
    if not await results_repo.claim_message(ctx.pool, team_id=team_id, channel_id=channel, ts=ts):
        return None
    current = await results_repo.thread_version(
        ctx.pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    if not spec:
        profiles = await repo.list_profiles(ctx.pool, team_id=team_id)
        label = None
        if current is not None:
            version = await repo.get_version_by_id(ctx.pool, team_id=team_id, version_id=current)
            label = version.label
        blocks = texts.profile_picker(profiles, current=label)
        await answering.post_notice(
            client,
            channel=channel,
            thread_ts=thread_ts,
            text=texts.profiles_list([p.name for p in profiles], current=label),
            blocks=blocks,
        )
        return None
    return await choose(
        ctx,
        client,
        team_id=team_id,
        channel=channel,
        thread_ts=thread_ts,
        user_id=user_id,
        spec=spec,
        current=current,
    )


async def choose(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    user_id: str,
    spec: str,
    current: int | None,
) -> str:
    """Switch the DM thread to `spec` ("Support" or "Support@3"), from `use` or the select;
    picking twice is harmless (the thread's version is set, not added). Returns the reply."""
    version = await resolve_version(ctx.pool, team_id=team_id, spec=spec, channel_id=channel)
    await results_repo.switch_thread(
        ctx.pool,
        team_id=team_id,
        channel_id=channel,
        thread_ts=thread_ts,
        profile_version_id=version.id,
        user_id=user_id,
    )
    if current is None:
        await _title(client, channel=channel, thread_ts=thread_ts, version=version, text="")
    return texts.switched(version.label)


async def pick(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    user_id: str,
    spec: str,
) -> None:
    """A profile and version picked in the select of a DM thread: switch, and say so there."""
    current = await results_repo.thread_version(
        ctx.pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    told = await choose(
        ctx,
        client,
        team_id=team_id,
        channel=channel,
        thread_ts=thread_ts,
        user_id=user_id,
        spec=spec,
        current=current,
    )
    await answering.post_notice(client, channel=channel, thread_ts=thread_ts, text=told)


async def converse(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user_id: str,
    text: str,
    queue: answering.AnswerQueue | None = None,
) -> None:
    """A customer's message in the DM: a new conversation starts with the DM's profile (the
    workspace default) at its current version; a known thread continues with its version.
    With `queue`, a worker writes the answer (bot.jobs.interactive) and shows the status when
    it starts; the title is set here, at once."""
    known = await results_repo.thread_version(
        ctx.pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    if known is not None:
        await follow_up.answer(
            ctx,
            client,
            team_id=team_id,
            channel=channel,
            thread_ts=thread_ts,
            ts=ts,
            user_id=user_id,
            text=text,
            queue=queue,
            writing_status=True,
        )
        return
    if not text or not await results_repo.claim_message(
        ctx.pool, team_id=team_id, channel_id=channel, ts=ts
    ):
        return
    if "\x00" in text:
        await answering.post_notice(
            client, channel=channel, thread_ts=thread_ts, text=f":warning: {NUL_IN_TEXT}"
        )
        return
    version = await resolve_version(ctx.pool, team_id=team_id, spec=None, channel_id=channel)
    await _title(client, channel=channel, thread_ts=thread_ts, version=version, text=text)
    await ask.first_answer(
        ctx,
        client,
        team_id=team_id,
        channel_id=channel,
        thread_ts=thread_ts,
        user_id=user_id,
        version=version,
        message=text,
        queue=queue,
        writing_status=True,
    )


async def _title(
    client: AsyncWebClient, *, channel: str, thread_ts: str, version: ProfileVersion, text: str
) -> None:
    title = (
        texts.conversation_title(label=version.label, first_message=text) if text else version.label
    )
    await _quietly(
        client.assistant_threads_setTitle(channel_id=channel, thread_ts=thread_ts, title=title),
        what="the conversation title",
    )


async def _quietly(call: Awaitable[object], *, what: str) -> None:
    """Titles, statuses and prompts decorate the conversation; a refusal is logged, not shown."""
    try:
        await call
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        log.info("Slack refused %s (%s)", what, code)
