"""`/bot test` end to end: signed command → ack → parent message → streamed answer in the thread
under the profile's name → stored result → metrics footer → analysis update."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.domain.results import TestResult
from bot.persona.personality import build_system_prompt
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from storage.results import _result
from tests.fake_openai import Failure, FakeOpenAI, rate
from tests.fake_slack import BOT_ID, Call, FakeSlack
from tests.slack_driver import CHANNEL, TEAM, USER, SlackDriver
from tests.test_proxies import known


async def results(pool: asyncpg.Pool) -> list[TestResult]:
    rows = await pool.fetch("SELECT * FROM test_results ORDER BY id")
    return [_result(r) for r in rows]


async def settled(pool: asyncpg.Pool, count: int = 1, timeout: float = 10.0) -> list[TestResult]:
    """Wait until `count` answers are stored and done (analysed, analysis failed, or errored)."""
    deadline = time.monotonic() + timeout
    while True:
        done = [r for r in await results(pool) if r.analysis or r.analysis_error or r.error_kind]
        if len(done) >= count:
            return done
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(done)} of {count} answers settled")
        await asyncio.sleep(0.02)


def streamed_text(slack: FakeSlack, ts: str) -> str:
    starts = [c for c in slack.of("chat.startStream") if c.response.get("ts") == ts]
    assert len(starts) == 1, "expected exactly one stream for this answer"
    parts = [starts[0].args.get("markdown_text", "")]
    parts += [
        c.args.get("markdown_text", "") for c in slack.of("chat.appendStream") if c.args["ts"] == ts
    ]
    parts += [
        c.args.get("markdown_text") or "" for c in slack.of("chat.stopStream") if c.args["ts"] == ts
    ]
    return "".join(parts)


async def start_test(
    live: SlackDriver, text: str = "test How do I cancel my subscription?"
) -> None:
    await live.reply_text("new Support")
    response = await live.command(text)
    assert response.status == 200


async def test_answer_streams_into_the_thread_under_the_profile(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set avatar :sparkles:")
    await live.command("test How do I cancel my subscription?")
    [result] = await settled(live.pool)
    slack = live.slack

    parent = slack.of("chat.postMessage")[0]
    assert parent.args["channel"] == CHANNEL and "thread_ts" not in parent.args
    assert parent.args["text"] == (
        f"Test of *Support v2* requested by <@{USER}>:\n> How do I cancel my subscription?"
    )
    start = slack.of("chat.startStream")[0].args
    thread_ts = start["thread_ts"]
    assert (start["username"], start["icon_emoji"]) == ("ROMASHKA Assistant", ":sparkles:")
    assert (start["recipient_team_id"], start["recipient_user_id"]) == (TEAM, USER)
    assert result.thread_ts == thread_ts and result.kind == "test"
    assert result.message_ts is not None
    # what reached Slack is exactly the stored answer, which is what the model wrote
    assert streamed_text(slack, result.message_ts) == result.answer
    assert result.answer and result.question == "How do I cancel my subscription?"
    assert result.prompt_tokens and result.completion_tokens
    assert result.confidence == pytest.approx(0.905, abs=0.001)  # exp(-0.1) per token
    assert result.ttft_ms is not None and result.total_ms >= result.ttft_ms  # type: ignore[operator]
    # the fake writes plain words (hyphenated ones count as two), so its words are countable
    words = len(result.answer.replace("-", " ").split())
    assert result.proxies and known(result.proxies["word_count"]) == words
    # alignment: 100 less the mean gap between the targets (all 50 here) and the levels the
    # fake judge gives by its own rules
    levels = rate(result.answer)
    assert result.alignment == round(100 - sum(abs(50 - v) for v in levels.values()) / 4, 1)

    # footer first says "analysing", then is updated with the judged alignment
    footer_post = next(c for c in slack.of("chat.postMessage") if c.args.get("blocks"))
    assert footer_post.args["thread_ts"] == thread_ts
    first_line = footer_post.args["blocks"][0]["elements"][0]["text"]
    assert "alignment: analysing…" in first_line and "confidence 90%" in first_line
    assert "model fake-model" in first_line
    update = (await slack.wait_calls("chat.update"))[-1].args
    line = update["blocks"][0]["elements"][0]["text"]
    assert f"alignment *{result.alignment:.0f}/100*" in line
    # Details and Save as scenario, then Slack's own feedback buttons
    assert [e["action_id"] for e in update["blocks"][1]["elements"]] == [
        ids.ANSWER_DETAILS,
        ids.ANSWER_SAVE_SCENARIO,
    ]
    [native] = update["blocks"][2]["elements"]
    assert update["blocks"][2]["type"] == "context_actions"
    assert (native["type"], native["action_id"]) == ("feedback_buttons", ids.ANSWER_FEEDBACK)


async def test_ack_comes_before_the_model_answers(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    model.ttft_s = 0.8
    started = time.monotonic()
    response = await live.command("test hello")
    acked = time.monotonic() - started
    assert response.status == 200
    assert live.slack.of("chat.startStream") == []  # nothing from the model yet
    await settled(live.pool)
    first_text = live.slack.of("chat.startStream")[0].at - started
    assert acked < first_text
    assert acked < 0.8


async def test_personality_reaches_the_model(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Calm")
    await live.reply_text("new Hyper")
    for text in ("enthusiasm 95", "formality 5", "style concise"):
        await live.reply_text(f"set {text} Hyper")
    await live.command("test @Calm I cannot log in")
    await settled(live.pool, 1)
    await live.command("test @Hyper I cannot log in")
    calm, hyper = await settled(live.pool, 2)
    answers = [r for r in model.requests if not r.get("response_format")]
    assert len(answers) == 2
    calm_req, hyper_req = answers
    calm_version = await repo.current_version(
        live.pool,
        team_id=TEAM,
        profile_id=(await repo.find_profile(live.pool, team_id=TEAM, name="Calm")).id,
    )
    calm_knowledge = await knowledge_repo.items(live.pool, team_id=TEAM, version_id=calm_version.id)
    assert calm_knowledge, "the first profile starts with the example knowledge"
    assert calm_req["messages"][0] == {
        "role": "system",
        "content": build_system_prompt(calm_version.fields, calm_knowledge),
    }
    assert calm_req["messages"][0]["content"] != hyper_req["messages"][0]["content"]
    assert hyper_req["temperature"] > calm_req["temperature"]
    assert hyper_req["max_completion_tokens"] == 150 and calm_req["max_completion_tokens"] == 300
    assert hyper.answer != calm.answer
    assert hyper.proxies and calm.proxies
    assert known(hyper.proxies["exclamations_per_sentence"]) > known(
        calm.proxies["exclamations_per_sentence"]
    )


async def test_streaming_refused_falls_back_to_post_and_update(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    live.slack.fail_next("chat.startStream", error="not_allowed_token_type")
    model.token_interval_s = 0.05
    await start_test(live)
    [result] = await settled(live.pool)
    posts = [c for c in live.slack.of("chat.postMessage") if c.args.get("username")]
    assert len(posts) == 1 and posts[0].args["thread_ts"] == result.thread_ts
    answer_updates = [c for c in live.slack.of("chat.update") if c.args["ts"] == result.message_ts]
    assert answer_updates, "the answer was never completed by chat.update"
    assert answer_updates[-1].args["text"] == result.answer
    # no faster than one edit a second (gross check over the whole answer)
    assert len(answer_updates) <= 2 + (result.total_ms or 0) / 1000


async def test_judge_failure_shows_analysis_unavailable(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.judge_reply = "this is not json"
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.analysis is None and result.alignment is None
    assert result.analysis_error
    update = (await live.slack.wait_calls("chat.update"))[-1].args
    assert "alignment n/a (analysis unavailable)" in update["blocks"][0]["elements"][0]["text"]


async def test_answer_cut_at_the_style_limit_is_marked_and_stored(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.ramble_answers = True  # a small model that writes until it is stopped
    await start_test(live)
    [result] = await settled(live.pool)
    assert (result.finish_reason, result.token_limit) == ("length", 300)
    assert result.judge_outcomes == {"traits": "ok"}
    update = (await live.slack.wait_calls("chat.update"))[-1].args
    line = update["blocks"][0]["elements"][0]["text"]
    assert line.startswith("✂️ cut at the conversational style's 300-token limit · ")


async def test_empty_answer_is_neither_analysed_nor_measured_as_zero(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.answer_text = ""
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.answer == ""
    assert result.proxies is not None
    assert result.proxies["reading_grade"] is None
    assert result.proxies["mean_sentence_length"] is None
    assert result.analysis_error == (
        "The personality analysis is unavailable: the answer was empty."
    )
    assert result.judge_outcomes is None  # no judge was asked, so no judge failed
    assert [r for r in model.requests if r.get("response_format")] == []
    # the footer is posted after the result is stored, so it may still be on its way
    await live.slack.wait_for(lambda s: any(c.args.get("blocks") for c in s.of("chat.postMessage")))
    footer = [c.args for c in live.slack.of("chat.postMessage") if c.args.get("blocks")][-1]
    assert "alignment n/a (analysis unavailable)" in footer["blocks"][0]["elements"][0]["text"]


async def test_no_logprobs_means_confidence_na(live: SlackDriver, model: FakeOpenAI) -> None:
    model.logprobs_enabled = False
    model.include_usage = False
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.confidence is None and result.prompt_tokens is None
    update = (await live.slack.wait_calls("chat.update"))[-1].args
    line = update["blocks"][0]["elements"][0]["text"]
    assert "confidence n/a" in line and "tokens n/a" in line


@pytest.mark.parametrize(
    ("failure", "kind", "fragment"),
    [
        (Failure("rate_limit"), "rate_limited", "too many requests"),
        (Failure("server_error"), "server", "internal problem"),
        (Failure("auth"), "auth", "rejected the bot's credentials"),
        (Failure("context_length"), "context_too_long", "too long for the model"),
    ],
)
async def test_model_failures_end_in_a_clear_thread_message(
    live: SlackDriver, model: FakeOpenAI, failure: Failure, kind: str, fragment: str
) -> None:
    model.fail_next(*([failure] * 3))  # more than the client's retries
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.error_kind == kind and result.answer == ""
    notices = [c.args["text"] for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts")]
    assert any(fragment in n for n in notices)
    for call in live.slack.calls:
        assert "SECRET123" not in json.dumps(call.args)


async def test_broken_stream_keeps_partial_text_marked_interrupted(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.fail_next(Failure("disconnect", after_chunks=3))
    await start_test(live)
    [result] = await settled(live.pool)
    assert result.interrupted and result.answer
    stop = live.slack.of("chat.stopStream")[-1].args
    assert "interrupted" in stop["markdown_text"]
    # the notice is posted before the result is stored; waiting for it anyway keeps the test
    # about what the thread shows, not about the order of two writes
    await live.slack.wait_for(
        lambda s: any(
            "cut off" in str(c.args.get("text"))
            for c in s.of("chat.postMessage")
            if c.args.get("thread_ts") == result.thread_ts
        )
    )


async def test_not_configured_says_what_to_set(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    reply = await driver.reply_text("test hello")
    assert "OPENAI_API_KEY" in reply
    assert driver.slack.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("test", "Usage: `/bot test <message>`"),
        ("test    ", "Usage: `/bot test <message>`"),
        ("test " + "x" * 4001, "at most 4,000"),
        ("test @Nope hi", "no profile named *Nope*"),
    ],
)
async def test_bad_test_input(live: SlackDriver, text: str, fragment: str) -> None:
    await live.reply_text("new Support")
    assert fragment in await live.reply_text(text)
    assert live.slack.of("chat.postMessage") == []


async def test_channel_the_bot_cannot_post_in(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    live.slack.fail_next("chat.postMessage", error="channel_not_found")
    assert "/invite @ROMASHKA" in await live.reply_text("test hi")


async def test_named_profile_is_used(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.reply_text("new Sales")
    await live.reply_text("set @Sales name Sally")
    await live.command("test @Sales Do you have a demo?")
    [result] = await settled(live.pool)
    assert live.slack.of("chat.startStream")[0].args["username"] == "Sally"
    assert "Test of *Sales v2*" in live.slack.of("chat.postMessage")[0].args["text"]
    assert result.question == "Do you have a demo?"


# ---- feedback and details ---------------------------------------------------------------------


async def answered(live: SlackDriver) -> tuple[TestResult, dict[str, Any]]:
    await start_test(live)
    [result] = await settled(live.pool)
    footer = next(
        c
        for c in live.slack.of("chat.postMessage")
        if c.args.get("blocks") and c.response.get("ok")
    )
    return result, {"ts": footer.response["ts"], "text": footer.args["text"]}


def feedback_click(
    slack: FakeSlack, *, value: str, message: dict[str, Any], user: str = USER, team: str = TEAM
) -> dict[str, Any]:
    """A click on Slack's feedback_buttons element, as block_actions delivers it."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "example"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0001",
        "trigger_id": "trigger-fb",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": message["ts"]},
        "message": message,
        "response_url": slack.response_url(f"fb-{value}-{user}"),
        "actions": [
            {
                "type": "feedback_buttons",
                "action_id": ids.ANSWER_FEEDBACK,
                "block_id": "fb",
                "value": value,
                "text": {"type": "plain_text", "text": "👍" if value.endswith("up") else "👎"},
                "action_ts": "1.0",
            }
        ],
    }


async def test_native_feedback_is_stored_and_counted(live: SlackDriver) -> None:
    result, message = await answered(live)
    slack = live.slack
    slack.responses.clear()  # the command's replies
    for value, user in (
        (f"{result.id}:up", USER),
        (f"{result.id}:down", "U0003"),
        (f"{result.id}:sideways", USER),
        ("99999:up", USER),
    ):
        response = await live.interact(
            feedback_click(slack, value=value, message=message, user=user)
        )
        assert response.status == 200
    replies = {r.method: str(r.args.get("text", "")) for r in await slack.wait_responses(4)}
    assert "your 👍 is recorded" in replies[f"response_url/fb-{result.id}:up-{USER}"]
    assert "your 👎 is recorded" in replies[f"response_url/fb-{result.id}:down-U0003"]
    assert "out of date" in replies[f"response_url/fb-{result.id}:sideways-{USER}"]
    assert "does not exist in this workspace" in replies[f"response_url/fb-99999:up-{USER}"]
    rows = await live.pool.fetch(
        "SELECT user_id, rating FROM result_feedback WHERE result_id = $1 ORDER BY user_id",
        result.id,
    )
    assert [(r["user_id"], r["rating"]) for r in rows] == [("U0001", 1), ("U0003", -1)]

    def counted(call: Call) -> bool:
        line = call.args["blocks"][0]["elements"][0]["text"]
        return call.args["ts"] == message["ts"] and str(line).endswith("👍 1 · 👎 1")

    # the footer shows the counts (updates may land in either order; one has both)
    await slack.wait_for(lambda s: any(counted(c) for c in s.of("chat.update")))
    update = next(c for c in slack.of("chat.update") if counted(c))
    assert update.args["blocks"][2]["type"] == "context_actions"


async def test_feedback_is_one_per_person_and_changeable(live: SlackDriver) -> None:
    # a workspace without Slack's feedback element gets today's buttons
    live.slack.unsupported_blocks.add("context_actions")
    result, message = await answered(live)
    footer = next(
        c
        for c in live.slack.of("chat.postMessage")
        if c.response.get("ok") and c.args.get("blocks")
    )
    assert [e["action_id"] for e in footer.args["blocks"][1]["elements"]] == [
        ids.ANSWER_DETAILS,
        ids.ANSWER_UP,
        ids.ANSWER_DOWN,
        ids.ANSWER_SAVE_SCENARIO,
    ]
    await live.click(ids.ANSWER_UP, str(result.id), message=message)
    assert "your 👍 is recorded" in (await live.next_reply())["text"]
    await live.click(ids.ANSWER_DOWN, str(result.id), message=message)
    await live.next_reply()
    await live.click(ids.ANSWER_UP, str(result.id), user="U0002", message=message)
    await live.next_reply()
    rows = await live.pool.fetch(
        "SELECT user_id, rating FROM result_feedback WHERE result_id = $1 ORDER BY user_id",
        result.id,
    )
    assert [(r["user_id"], r["rating"]) for r in rows] == [("U0001", -1), ("U0002", 1)]
    update = [c for c in live.slack.of("chat.update") if c.args["ts"] == message["ts"]][-1]
    labels = [e["text"]["text"] for e in update.args["blocks"][1]["elements"]]
    assert labels == ["Details", "👍 1", "👎 1", "Save as scenario"]


async def test_feedback_from_another_workspace_is_refused(live: SlackDriver) -> None:
    result, message = await answered(live)
    await live.click(ids.ANSWER_UP, str(result.id), team="T0002", message=message)
    assert "does not exist in this workspace" in (await live.next_reply())["text"]
    assert await live.pool.fetchval("SELECT count(*) FROM result_feedback") == 0


async def test_details_opens_the_full_analysis(live: SlackDriver) -> None:
    result, message = await answered(live)
    await live.click(ids.ANSWER_DETAILS, str(result.id), message=message)
    view = (await live.slack.wait_calls("views.open"))[-1].args["view"]
    text = json.dumps(view, ensure_ascii=False)
    assert f"Personality alignment {result.alignment:.1f}/100" in text
    for label in ("Formality", "Enthusiasm", "Technical depth", "Empathy"):
        assert f"*{label}*: target 50, came across as" in text
    assert "Reading grade (Flesch–Kincaid)" in text and "Contractions per 100 words" in text


# ---- follow-ups -------------------------------------------------------------------------------


def human_reply(
    slack: FakeSlack, thread_ts: str, text: str, *, user: str = "U0002"
) -> dict[str, Any]:
    message = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": slack.next_ts(),
        "thread_ts": thread_ts,
        "channel": CHANNEL,
        "channel_type": "channel",
    }
    slack.thread_messages.setdefault((CHANNEL, thread_ts), []).append(message)
    return message


async def test_follow_up_uses_the_whole_thread_and_same_version(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await start_test(live, "test I cannot log in")
    [first] = await settled(live.pool)
    await live.reply_text("set formality 90")  # a newer version must not leak into the thread
    assert first.thread_ts
    event = human_reply(live.slack, first.thread_ts, "It still fails after the reset")
    await live.event(event)
    _, second = await settled(live.pool, 2)
    assert second.kind == "followup" and second.profile_version_id == first.profile_version_id
    assert second.user_id == "U0002"
    request = [r for r in model.requests if not r.get("response_format")][-1]
    assert [(m["role"], m["content"]) for m in request["messages"][1:]] == [
        ("user", "I cannot log in"),
        ("assistant", first.answer),
        ("user", "It still fails after the reset"),
    ]


async def test_follow_up_ignores_bots_edits_and_answers_retries_once(live: SlackDriver) -> None:
    await start_test(live)
    [first] = await settled(live.pool)
    assert first.thread_ts
    ts = first.thread_ts
    ignored: list[dict[str, Any]] = [
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": CHANNEL,
            "ts": "9.1",
            "thread_ts": ts,
            "message": {"text": "edited"},
        },
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": CHANNEL,
            "ts": "9.2",
            "thread_ts": ts,
        },
        {
            "type": "message",
            "bot_id": "BOTHER",
            "user": "UOTHERBOT",
            "text": "hi",
            "channel": CHANNEL,
            "ts": "9.3",
            "thread_ts": ts,
        },
        {
            "type": "message",
            "bot_id": BOT_ID,
            "user": "UBOT0001",
            "text": "my own",
            "channel": CHANNEL,
            "ts": "9.4",
            "thread_ts": ts,
        },
        {
            "type": "message",
            "user": "U0002",
            "text": "not a test thread",
            "channel": CHANNEL,
            "ts": "9.5",
            "thread_ts": "123.456",
        },
        {"type": "message", "user": "U0002", "text": "top level", "channel": CHANNEL, "ts": "9.6"},
    ]
    for event in ignored:
        await live.event(event)
    event = human_reply(live.slack, ts, "<@UBOT0001> and refunds?")
    await live.event(event, event_id="EvSAME")
    await live.event(event, event_id="EvSAME", retry_num=1)
    await live.event({**event, "type": "app_mention"})
    await settled(live.pool, 2)
    await asyncio.sleep(0.3)  # give any duplicate a chance to show up
    stored = await results(live.pool)
    assert [r.kind for r in stored] == ["test", "followup"]
    assert stored[1].question == "and refunds?"


async def test_long_threads_are_trimmed_oldest_first(live: SlackDriver, model: FakeOpenAI) -> None:
    await start_test(live, "test first question")
    [first] = await settled(live.pool)
    assert first.thread_ts
    for i in range(20):  # about 20 x 600 tokens: well over the 8,000-token default budget
        human_reply(live.slack, first.thread_ts, f"older message {i} " + "words " * 400)
    event = human_reply(live.slack, first.thread_ts, "the latest question")
    await live.event(event)
    _, second = await settled(live.pool, 2)
    assert second.dropped_turns > 0
    request = [r for r in model.requests if not r.get("response_format")][-1]
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "the latest question"}
    assert "first question" not in json.dumps(request["messages"])
