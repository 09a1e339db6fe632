"""An answer that breaks in any way ends like a broken stream: the text so far kept and marked
interrupted, the streamed message closed, the result stored and the thread told. A follow-up
that was claimed is answered or told why not, never silently dropped."""

from __future__ import annotations

import asyncio

from bot.answers.follow_up import FOLLOW_UP_FAILED
from bot.answers.thread import INTERNAL_FAILURE, INTERNAL_FAILURE_PARTIAL
from bot.domain.results import TestResult
from bot.model.llm import USER_MESSAGES, LLMErrorKind
from tests.fake_openai import Failure, FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SlackDriver
from tests.test_bot_test import human_reply, settled, start_test, streamed_text

BAD_OUTPUT = USER_MESSAGES[LLMErrorKind.BAD_OUTPUT]


def thread_notices(slack: FakeSlack, thread_ts: str | None) -> list[str]:
    return [
        str(c.args.get("text"))
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") == thread_ts and not c.args.get("blocks")
        and not c.args.get("username")
    ]  # fmt: skip


async def analysed(live: SlackDriver, result_id: int) -> None:
    for _ in range(250):
        if await live.pool.fetchval(
            "SELECT analysis IS NOT NULL OR analysis_error IS NOT NULL FROM test_results "
            "WHERE id = $1",
            result_id,
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the answer was never analysed")


async def first_answer(live: SlackDriver) -> TestResult:
    await start_test(live, "test I cannot log in")
    [first] = await settled(live.pool)
    assert first.thread_ts and not first.error_kind
    await analysed(live, first.id)
    return first


async def test_malformed_chunk_mid_answer_keeps_the_text_marked_interrupted(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.fail_next(Failure("malformed", after_chunks=3))
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.interrupted and result.error_kind == "bad_output"
    assert result.answer and len(result.answer.split()) == 3
    assert result.message_ts is not None
    stop = [c for c in live.slack.of("chat.stopStream") if c.args["ts"] == result.message_ts]
    assert len(stop) == 1 and "interrupted" in stop[0].args["markdown_text"]
    assert streamed_text(live.slack, result.message_ts).startswith(result.answer)
    assert f":warning: The answer was cut off: {BAD_OUTPUT}" in thread_notices(
        live.slack, result.thread_ts
    )


async def test_malformed_first_chunk_ends_in_a_notice(live: SlackDriver, model: FakeOpenAI) -> None:
    model.fail_next(Failure("malformed", after_chunks=0))
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.error_kind == "bad_output" and result.answer == ""
    assert live.slack.of("chat.startStream") == []  # nothing was shown, nothing left open
    assert f":warning: {BAD_OUTPUT}" in thread_notices(live.slack, result.thread_ts)


async def test_follow_up_with_a_malformed_chunk_is_answered_and_stored(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    first = await first_answer(live)
    assert first.thread_ts
    model.fail_next(Failure("malformed", after_chunks=2))
    await live.event(human_reply(live.slack, first.thread_ts, "It still fails"))
    _, second = await settled(live.pool, 2)
    assert second.kind == "followup" and second.interrupted and second.answer
    assert second.error_kind == "bad_output"
    stops = [c for c in live.slack.of("chat.stopStream") if c.args["ts"] == second.message_ts]
    assert len(stops) == 1 and "interrupted" in stops[0].args["markdown_text"]
    assert f":warning: The answer was cut off: {BAD_OUTPUT}" in thread_notices(
        live.slack, first.thread_ts
    )

    await analysed(live, second.id)  # the judge's requests must not take the next failure
    model.fail_next(Failure("malformed", after_chunks=0))
    await live.event(human_reply(live.slack, first.thread_ts, "Hello?"))
    *_, third = await settled(live.pool, 3)
    assert third.kind == "followup" and third.error_kind == "bad_output"
    assert f":warning: {BAD_OUTPUT}" in thread_notices(live.slack, first.thread_ts)


async def test_any_other_failure_mid_answer_ends_like_a_broken_stream(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    # Slack refuses the stream and then the plain post it falls back to: the answer cannot be
    # shown the usual way and the failure is not the model's
    live.slack.fail_next("chat.startStream", error="not_allowed_token_type")
    live.slack.fail_next("chat.postMessage", error="internal_error", after=1)  # after the parent
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.error_kind == "internal" and result.error == INTERNAL_FAILURE_PARTIAL
    assert result.interrupted and result.answer
    # what arrived before the failure is shown, closed and marked as interrupted
    assert result.message_ts is not None
    shown = streamed_text(live.slack, result.message_ts)
    assert shown.startswith(result.answer) and "interrupted" in shown
    assert live.slack.of("chat.stopStream")
    assert f":warning: {INTERNAL_FAILURE_PARTIAL}" in thread_notices(live.slack, result.thread_ts)


async def test_a_claimed_follow_up_that_cannot_be_prepared_is_answered_with_a_notice(
    live: SlackDriver,
) -> None:
    first = await first_answer(live)
    assert first.thread_ts
    # the thread's stored answers cannot be read: the follow-up was already claimed
    await live.pool.execute("ALTER TABLE test_results RENAME TO test_results_gone")
    try:
        await live.event(human_reply(live.slack, first.thread_ts, "Are you there?"))
        await live.slack.wait_for(
            lambda s: f":warning: {FOLLOW_UP_FAILED}" in thread_notices(s, first.thread_ts)
        )
    finally:
        await live.pool.execute("ALTER TABLE test_results_gone RENAME TO test_results")


async def test_an_answer_that_cannot_start_is_stored_and_told(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    # the knowledge for the prompt cannot be read: nothing reached the model or the thread yet
    await live.reply_text("new Support")
    await live.pool.execute("ALTER TABLE knowledge_items RENAME TO knowledge_gone")
    try:
        await live.command("test hello")
        await live.slack.wait_for(
            lambda s: (
                any(f":warning: {INTERNAL_FAILURE}" == n for n in thread_notices(s, None))
                or any(
                    str(c.args.get("text")) == f":warning: {INTERNAL_FAILURE}"
                    for c in s.of("chat.postMessage")
                )
            )
        )
    finally:
        await live.pool.execute("ALTER TABLE knowledge_gone RENAME TO knowledge_items")
    await asyncio.sleep(0.1)
    [result] = await settled(live.pool)
    assert result.error_kind == "internal" and result.answer == ""
    assert model.requests == []
