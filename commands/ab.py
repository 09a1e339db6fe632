"""`/bot ab`: blind A/B tests the team votes on, closing with a verdict, and the leaderboard."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab_verdict import compute
from bot.batch_answer import RunContext, answer_and_judge
from bot.blocks import ab as blocks
from bot.blocks.common import escape
from bot.deps import Deps
from bot.errors import UserError
from bot.llm import LLMError, LLMErrorKind
from bot.pairwise import judge as pairwise_judge
from bot.roles import is_editor
from bot.slack_post import post_message
from commands import payload
from commands.home import leaderboard_now
from commands.parse import Parsed
from commands.replies import reply_with
from commands.request import Reply, SlashRequest
from commands.scenario_run import resolve_version
from storage import ab as repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.ab import AbMessage, AbTest, AbTestNotFound, Choice
from storage.models import ProfileVersion
from storage.results import NewResult
from storage.scenarios import ScenarioNotFound

log = logging.getLogger(__name__)

MAX_MESSAGES: Final = 20
DEFAULT_SCENARIO: Final = "Product inquiry"
USAGE: Final = (
    'Usage: `/bot ab <A> <B> [scenario | "message one" "message two" …]` where A and B are '
    "`profile` or `profile@version`, e.g. `/bot ab Support@3 Support@4 Billing questions`. "
    "Close voting with `/bot ab close <id>`; `/bot leaderboard` ranks every version tested."
)
_QUOTED = re.compile(r"[\"“”]([^\"“”]*)[\"“”]")
# a tally refresh re-reads after posting and repeats while votes keep arriving, so the last
# update always shows the final count even when updates from several votes interleave
TALLY_REFRESH_ROUNDS: Final = 3


def parse_messages(raw: str) -> list[str] | None:
    """Quoted messages, or None when `raw` is not in quotes (then it names a scenario)."""
    text = raw.strip()
    if not text or text[0] not in '"“”':
        return None
    found = [m.strip() for m in _QUOTED.findall(text)]
    leftover = _QUOTED.sub("", text).strip()
    if leftover or not all(found):
        raise UserError(
            "Put each message in its own quotes, e.g. "
            '`/bot ab Support@3 Support@4 "Where is my order?" "Can I get a refund?"`.'
        )
    return found


async def start(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    words = parsed.rest.split(maxsplit=2)
    if parsed.profile is not None or len(words) < 2:
        raise UserError(USAGE)
    if deps.llm is None or not deps.llm.configured:
        return Reply(LLMError(LLMErrorKind.NOT_CONFIGURED).message)
    spec_a, spec_b = words[0], words[1]
    version_a = await resolve_version(
        deps, team_id=req.team_id, channel_id=req.channel_id, spec=spec_a
    )
    version_b = await resolve_version(
        deps, team_id=req.team_id, channel_id=req.channel_id, spec=spec_b
    )
    if version_a.id == version_b.id:
        raise UserError(
            f"A and B are the same version ({escape(version_a.label)}). Compare two versions, "
            "e.g. `Support@3 Support@4`, or two profiles."
        )
    rest = words[2] if len(words) > 2 else ""
    messages = parse_messages(rest)
    if messages is None:
        await scenarios_repo.ensure_seeded(deps.pool, team_id=req.team_id)
        name = rest.strip() or DEFAULT_SCENARIO
        try:
            scenario = await scenarios_repo.find_scenario(deps.pool, team_id=req.team_id, name=name)
        except ScenarioNotFound:
            raise UserError(
                f"There is no scenario named *{escape(name)}*. Name one from `/bot scenarios`, "
                "or give the messages in quotes."
            ) from None
        messages = list(scenario.messages)
    if len(messages) > MAX_MESSAGES:
        raise UserError(f"An A/B test takes at most {MAX_MESSAGES} messages (got {len(messages)}).")
    test, rows = await repo.create(
        deps.pool,
        team_id=req.team_id,
        version_a_id=version_a.id,
        version_b_id=version_b.id,
        user_id=req.user_id,
        channel_id=req.channel_id,
        # the blind order is drawn per message from the OS's randomness and stored
        messages=[(m, secrets.randbelow(2) == 0) for m in messages],
    )
    text, parent_blocks = blocks.parent(
        ab_id=test.id,
        label_a=version_a.label,
        label_b=version_b.label,
        messages=len(rows),
        status="answering",
        tally=repo.Tally(0, 0, 0, 0, 0),
    )
    try:
        parent = await client.chat_postMessage(
            channel=req.channel_id, text=text, blocks=parent_blocks
        )
    except SlackApiError as exc:
        log.warning("could not post the A/B parent: %s", exc.response.get("error"))
        return Reply("I can't post in this conversation. Invite me with `/invite @ROMASHKA`.")
    parent_ts = str(parent["ts"])
    await repo.set_parent(deps.pool, team_id=req.team_id, ab_id=test.id, parent_ts=parent_ts)

    ctx = RunContext(
        deps.pool,
        deps.llm,
        deps.settings.context_budget_tokens,
        deps.settings.knowledge_budget_tokens,
    )
    limit = asyncio.Semaphore(deps.settings.scenario_concurrency)

    async def one(row: AbMessage) -> None:
        async with limit:
            await _answer_pair(
                deps, client, ctx, test, row, version_a, version_b, len(rows), parent_ts
            )

    await asyncio.gather(*(one(r) for r in rows))
    await repo.open_voting(deps.pool, team_id=req.team_id, ab_id=test.id)
    await refresh_parent(deps, client, test.id, team_id=req.team_id)
    return None


async def _answer_pair(
    deps: Deps,
    client: AsyncWebClient,
    ctx: RunContext,
    test: AbTest,
    row: AbMessage,
    version_a: ProfileVersion,
    version_b: ProfileVersion,
    total: int,
    parent_ts: str,
) -> None:
    def base(version: ProfileVersion) -> NewResult:
        return NewResult(
            team_id=test.team_id,
            profile_version_id=version.id,
            kind="ab",
            user_id=test.started_by,
            question=row.message,
            answer="",
            channel_id=test.channel_id,
            thread_ts=parent_ts,
        )

    result_a, result_b = await asyncio.gather(
        answer_and_judge(ctx, version=version_a, base=base(version_a)),
        answer_and_judge(ctx, version=version_b, base=base(version_b)),
    )
    if result_a.answer and result_b.answer:
        pair = await pairwise_judge(
            ctx.llm, question=row.message, answer_a=result_a.answer, answer_b=result_b.answer
        )
        verdict, detail = pair.verdict, pair.detail
    else:
        verdict, detail = "unavailable", {"reason": "a side produced no answer"}
    await repo.set_answers(
        deps.pool,
        team_id=test.team_id,
        message_id=row.id,
        result_a_id=result_a.id,
        result_b_id=result_b.id,
        judge_verdict=verdict,
        judge_detail=detail,
    )
    first, second = (result_a, result_b) if row.a_first else (result_b, result_a)
    text, pair_blocks = blocks.blind_pair(
        message_id=row.id,
        position=row.position,
        total=total,
        question=row.message,
        reply_1=first.answer,
        reply_2=second.answer,
    )
    try:
        posted = await post_message(
            client,
            channel=test.channel_id,
            thread_ts=parent_ts,
            text=text,
            blocks=pair_blocks,
            username=blocks.NEUTRAL_NAME,
            icon_emoji=blocks.NEUTRAL_ICON,
        )
        await repo.set_message_ts(
            deps.pool, team_id=test.team_id, message_id=row.id, ts=str(posted["ts"])
        )
    except SlackApiError as exc:
        log.warning("could not post an A/B pair: %s", exc.response.get("error"))


async def _labels(deps: Deps, test: AbTest) -> tuple[str, str]:
    labels = await repo.version_labels(
        deps.pool, team_id=test.team_id, ids=[test.version_a_id, test.version_b_id]
    )
    return labels[test.version_a_id], labels[test.version_b_id]


async def refresh_parent(deps: Deps, client: AsyncWebClient, ab_id: int, *, team_id: str) -> None:
    shown = None
    for _ in range(TALLY_REFRESH_ROUNDS):
        test = await repo.get(deps.pool, team_id=team_id, ab_id=ab_id)
        tally = await repo.tally(deps.pool, team_id=team_id, ab_id=ab_id)
        if (tally, test.status) == shown or test.parent_ts is None:
            return
        label_a, label_b = await _labels(deps, test)
        count = len(await repo.messages(deps.pool, team_id=team_id, ab_id=ab_id))
        recommendation = str(test.verdict["per_person"]["recommendation"]) if test.verdict else None
        text, parent_blocks = blocks.parent(
            ab_id=ab_id,
            label_a=label_a,
            label_b=label_b,
            messages=count,
            status=test.status,
            tally=tally,
            recommendation=recommendation,
        )
        try:
            await client.chat_update(
                channel=test.channel_id, ts=test.parent_ts, text=text, blocks=parent_blocks
            )
        except SlackApiError as exc:
            log.warning("could not update the A/B tally: %s", exc.response.get("error"))
            return
        shown = (tally, test.status)


async def vote(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    team_id: str,
) -> None:
    await ack()
    user_id = payload.user_id(body)

    async def work() -> Reply:
        value = payload.json_value(body)
        try:
            message_id, picked = int(value["m"]), str(value["c"])
        except (ValueError, KeyError, TypeError):
            raise UserError(payload.OUT_OF_DATE) from None
        if picked not in {"1", "2", "tie", "both_bad"}:
            raise UserError(payload.OUT_OF_DATE)
        try:
            message = await _message(deps, team_id, message_id)
        except AbTestNotFound:
            raise UserError("That A/B test does not exist in this workspace.") from None
        choice: Choice
        if picked in {"1", "2"}:
            choice = "a" if (picked == "1") == message.a_first else "b"
        else:
            choice = "tie" if picked == "tie" else "both_bad"
        outcome = await repo.vote(
            deps.pool, team_id=team_id, message_id=message_id, user_id=user_id, choice=choice
        )
        if not outcome.recorded:
            if outcome.status == "closed":
                return Reply(f"Voting has closed for A/B test #{outcome.test.id}.")
            return Reply("The replies are still being written; vote when they are all in.")
        await refresh_parent(deps, client, outcome.test.id, team_id=team_id)
        label = {
            "1": "Reply 1 is better",
            "2": "Reply 2 is better",
            "tie": "a tie",
            "both_bad": "both bad",
        }[picked]
        return Reply(
            f"Recorded your vote on message {message.position + 1}: {label}. "
            "Click another button to change it."
        )

    await reply_with(respond, work)


async def _message(deps: Deps, team_id: str, message_id: int) -> AbMessage:
    row = await deps.pool.fetchrow(
        "SELECT ab_test_id FROM ab_messages WHERE team_id = $1 AND id = $2", team_id, message_id
    )
    if row is None:
        raise AbTestNotFound(message_id)
    for m in await repo.messages(deps.pool, team_id=team_id, ab_id=row["ab_test_id"]):
        if m.id == message_id:
            return m
    raise AbTestNotFound(message_id)


async def close(
    deps: Deps, client: AsyncWebClient, *, team_id: str, user_id: str, ab_id: int
) -> Reply:
    try:
        test = await repo.get(deps.pool, team_id=team_id, ab_id=ab_id)
    except AbTestNotFound:
        raise UserError(f"There is no A/B test #{ab_id} in this workspace.") from None
    if test.started_by != user_id and not await is_editor(
        deps.pool, client, team_id=team_id, user_id=user_id
    ):
        raise UserError(
            f"Only <@{test.started_by}>, who started A/B test #{ab_id}, or an editor can close it."
        )
    if test.status == "closed":
        return Reply(f"A/B test #{ab_id} is already closed.")
    if test.status == "answering":
        return Reply(f"A/B test #{ab_id} is still answering; close it once voting has opened.")
    # closing first freezes the votes: a vote holds a share lock on the test row while it
    # checks that voting is open, so every vote either landed before this or sees "closed"
    closed = await repo.close(deps.pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
    if closed is None:
        return Reply(f"A/B test #{ab_id} is already closed.")
    rows = await repo.messages(deps.pool, team_id=team_id, ab_id=ab_id)
    votes = await repo.votes(deps.pool, team_id=team_id, ab_id=ab_id)
    result_ids = [i for m in rows for i in (m.result_a_id, m.result_b_id) if i is not None]
    results = await results_repo.results_by_ids(deps.pool, team_id=team_id, ids=result_ids)
    verdict = compute(votes, rows, results)
    await repo.set_verdict(deps.pool, team_id=team_id, ab_id=ab_id, verdict=verdict.to_json())
    label_a, label_b = await _labels(deps, closed)
    await _reveal(deps, client, closed, rows, votes, results, label_a, label_b)
    text, verdict_blocks = blocks.verdict_message(
        ab_id=ab_id, label_a=label_a, label_b=label_b, v=verdict
    )
    if closed.parent_ts:
        try:
            await client.chat_postMessage(
                channel=closed.channel_id,
                thread_ts=closed.parent_ts,
                text=text,
                blocks=verdict_blocks,
                reply_broadcast=True,
            )
        except SlackApiError as exc:
            log.warning("could not post the A/B verdict: %s", exc.response.get("error"))
    await refresh_parent(deps, client, ab_id, team_id=team_id)
    return Reply(f"Closed A/B test #{ab_id}: {verdict.recommendation}")


async def _reveal(
    deps: Deps,
    client: AsyncWebClient,
    test: AbTest,
    rows: list[AbMessage],
    votes: list[repo.Vote],
    results: dict[int, Any],
    label_a: str,
    label_b: str,
) -> None:
    for m in rows:
        if m.message_ts is None or m.result_a_id is None or m.result_b_id is None:
            continue
        a, b = results[m.result_a_id], results[m.result_b_id]
        first, second = (a, b) if m.a_first else (b, a)
        counts = {c: 0 for c in ("a", "b", "tie", "both_bad")}
        for v in votes:
            if v.ab_message_id == m.id:
                counts[v.choice] += 1
        judge = {"a": f"A ({label_a})", "b": f"B ({label_b})"}.get(
            m.judge_verdict or "unavailable", m.judge_verdict or "unavailable"
        )
        text, revealed = blocks.revealed_pair(
            position=m.position,
            total=len(rows),
            question=m.message,
            reply_1=first.answer,
            reply_2=second.answer,
            label_1=f"{'A' if m.a_first else 'B'}: {label_a if m.a_first else label_b}",
            label_2=f"{'B' if m.a_first else 'A'}: {label_b if m.a_first else label_a}",
            votes=counts,
            judge=judge,
        )
        try:
            await client.chat_update(
                channel=test.channel_id, ts=m.message_ts, text=text, blocks=revealed
            )
        except SlackApiError as exc:
            log.warning("could not reveal an A/B pair: %s", exc.response.get("error"))


async def close_command(deps: Deps, client: AsyncWebClient, req: SlashRequest, raw: str) -> Reply:
    number = raw.strip().lstrip("#")
    if not number.isdigit():
        raise UserError("Usage: `/bot ab close <id>`, e.g. `/bot ab close 12`.")
    if len(number) > payload.MAX_ID_DIGITS:
        raise UserError(f"There is no A/B test #{escape(number[:20])} in this workspace.")
    return await close(deps, client, team_id=req.team_id, user_id=req.user_id, ab_id=int(number))


async def handle(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    head, _, rest = parsed.rest.partition(" ")
    if head.lower() == "close" and parsed.profile is None:
        return await close_command(deps, client, req, rest)
    return await start(deps, client, req, parsed)


async def close_button(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    team_id: str,
) -> None:
    await ack()
    user_id = payload.user_id(body)

    async def work() -> Reply:
        ab_id = payload.id_value(body)
        return await close(deps, client, team_id=team_id, user_id=user_id, ab_id=ab_id)

    await reply_with(respond, work)


async def leaderboard(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    if parsed.rest or parsed.profile:
        raise UserError("Usage: `/bot leaderboard`.")
    # fitted off the event loop and kept until the votes change (seconds of CPU with many
    # versions): the same board the Home tab shows
    ranked = await leaderboard_now(deps, team_id=req.team_id)
    labels = await repo.version_labels(
        deps.pool, team_id=req.team_id, ids=[int(r.item) for r in ranked]
    )
    text, board = blocks.leaderboard(ranked, {str(k): v for k, v in labels.items()})
    return Reply(text, board)
