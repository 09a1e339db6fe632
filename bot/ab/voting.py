"""Voting on a blind pair, and its Details with both replies in full. While voting is open
neither says anything that depends on which reply is A."""

from __future__ import annotations

from typing import Any

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.closing import side_label
from bot.ab.parent import labels, refresh
from bot.blocks import ab as blocks
from bot.domain.ab import AbMessage, AbTest
from bot.errors import UserError
from storage import ab as repo
from storage import results as results_repo
from storage.ab import AbTestNotFound, Choice

NOT_HERE = "That A/B test does not exist in this workspace."
PICKED = {
    "1": "your vote for Reply 1",
    "2": "your vote for Reply 2",
    "tie": "your vote (a tie)",
    "both_bad": "your vote (both bad)",
}


def not_taking_votes(test: AbTest, message: AbMessage) -> str:
    """Why a vote was not recorded, in words that do not depend on the hidden order."""
    if message.failure is not None:
        return f"Message {message.position + 1} {message.failure}, so it takes no votes."
    again = "Start a new one with `/bot ab <A> <B>`."
    reason = test.failure_reason or "no reason recorded"
    return {
        "closed": f"Voting has closed for A/B test #{test.id}.",
        "cancelled": f"A/B test #{test.id} was cancelled, so it takes no more votes.",
        "failed": f"A/B test #{test.id} failed ({reason}), so it takes no votes. {again}",
        "interrupted": (
            f"A/B test #{test.id} was interrupted ({reason}), so it takes no votes. {again}"
        ),
    }.get(test.status, "The replies are still being written; vote when they are all in.")


async def vote(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    user_id: str,
    message_id: int,
    picked: str,
    side: str = "Reply",
    item: str = "message",
) -> str:
    """Record `picked` (Reply 1 or 2 as shown, a tie or both bad) as the vote it stands for
    on this message's hidden order; the answer for the voter. `side` and `item` name what was
    shown (an A/B over simulations: Conversation 1 or 2 of a pair)."""
    try:
        message = await repo.message(pool, team_id=team_id, message_id=message_id)
    except AbTestNotFound:
        raise UserError(NOT_HERE) from None
    choice: Choice
    if picked in {"1", "2"}:
        choice = "a" if (picked == "1") == message.a_first else "b"
    else:
        choice = "tie" if picked == "tie" else "both_bad"
    outcome = await repo.vote(
        pool, team_id=team_id, message_id=message_id, user_id=user_id, choice=choice
    )
    if not outcome.recorded:
        return not_taking_votes(outcome.test, outcome.message)
    await refresh(pool, client, outcome.test.id, team_id=team_id)
    said = f"your vote for {side} {picked}" if picked in {"1", "2"} else PICKED[picked]
    return (
        f"Thanks: {said} on {item} {message.position + 1} is recorded. "
        "Click another button to change it."
    )


async def details(pool: asyncpg.Pool, *, team_id: str, message_id: int) -> dict[str, Any]:
    """The Details view of one pair: both replies in full, named only once revealed."""
    try:
        message = await repo.message(pool, team_id=team_id, message_id=message_id)
        test = await repo.get(pool, team_id=team_id, ab_id=message.ab_test_id)
    except AbTestNotFound:
        raise UserError(NOT_HERE) from None
    if message.result_a_id is None or message.result_b_id is None:
        raise UserError(f"The replies to message {message.position + 1} are not written yet.")
    results = await results_repo.results_by_ids(
        pool, team_id=team_id, ids=[message.result_a_id, message.result_b_id]
    )
    a, b = results[message.result_a_id], results[message.result_b_id]
    first, second = (a, b) if message.a_first else (b, a)
    label_1 = label_2 = None
    if test.status == "closed":
        # revealed in the thread already; before that, Reply 1 and Reply 2 are all it says
        label_a, label_b = await labels(pool, test)
        label_1, label_2 = (
            side_label(a_first=message.a_first, reply=r, label_a=label_a, label_b=label_b)
            for r in (1, 2)
        )
    count = len(await repo.messages(pool, team_id=team_id, ab_id=test.id))
    return blocks.pair_details(
        position=message.position,
        total=count,
        question=message.message,
        reply_1=first.answer,
        reply_2=second.answer,
        label_1=label_1,
        label_2=label_2,
    )
