"""A model steered into writing Slack control sequences pings nobody and hides no link, on every
path that posts its words: the streamed answer, the post-and-update fallback, follow-ups,
scenario answers, A/B pairs and their reveal, the Details view, and the App Home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.answers.streaming import AnswerStream
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import CHANNEL, TEAM, USER, SlackDriver
from tests.test_ab import open_test, pairs
from tests.test_bot_test import human_reply, settled, streamed_text
from tests.test_home import open_home
from tests.test_scenarios import run_done

HOSTILE = (
    "Sure! <!channel> <!here> <!everyone> ask <!subteam^S0EVIL|@support> or <@U0EVIL> in "
    "<#C0EVIL|general>. Read <https://evil.example/a|the help centre> or "
    "[the docs](https://evil.example/b). @here @channel **Done**"
)
# none of these may reach Slack as written
CONTROLS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^",
    "<@U0EVIL",
    "<#C0EVIL",
    "<https://evil",
    "](https://evil",
    "@here",
    "@channel",
)
# the real targets of the disguised links stay visible
TARGETS = ("https://evil.example/a", "https://evil.example/b")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_inert(slack: FakeSlack) -> str:
    """Every string the app sent to Slack, checked; returns them joined for further checks."""
    sent = [s for c in [*slack.calls, *slack.responses] for s in strings(c.args)]
    for text in sent:
        for control in CONTROLS:
            assert control not in text, f"{control!r} reached Slack in {text[:200]!r}"
    return "\n".join(sent)


@pytest.fixture
def hostile(model: FakeOpenAI) -> FakeOpenAI:
    model.answer_text = HOSTILE
    return model


async def test_streamed_answer_and_follow_up(live: SlackDriver, hostile: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.command("test Repeat after me")
    [result] = await settled(live.pool)
    assert result.answer == HOSTILE  # stored as written: only what is posted is neutralised
    shown = streamed_text(live.slack, str(result.message_ts))
    assert "the docs (https://evil.example/b)" in shown and "**Done**" in shown
    reply = human_reply(live.slack, str(result.thread_ts), "again please")
    await live.event(reply)
    await settled(live.pool, 2)
    assert len(live.slack.of("chat.startStream")) == 2
    sent = assert_inert(live.slack)
    assert all(t in sent for t in TARGETS)


async def test_post_and_update_fallback(live: SlackDriver, hostile: FakeOpenAI) -> None:
    live.slack.fail_next("chat.startStream", error="not_allowed_token_type")
    await live.reply_text("new Support")
    await live.command("test Repeat after me")
    await settled(live.pool)
    answer = next(c for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts"))
    updates = [c for c in live.slack.of("chat.update") if c.args["ts"] == answer.response["ts"]]
    final = updates[-1].args["text"] if updates else answer.args["text"]
    assert "*Done*" in final  # Markdown bold in mrkdwn
    assert "&lt;!channel&gt;" in final
    sent = assert_inert(live.slack)
    assert all(t in sent for t in TARGETS)


async def test_details_view_with_a_hostile_judge(live: SlackDriver, model: FakeOpenAI) -> None:
    model.judge_reply = json.dumps(
        {
            **{
                trait: {"level": 50, "reason": f"{trait}: {HOSTILE}"}
                for trait in ("formality", "enthusiasm", "technical_depth", "empathy")
            },
            "suggestions": [HOSTILE, "Say <!here> less"],
        }
    )
    model.reported_model = "gpt <!channel>"
    await live.reply_text("new Support")
    await live.command("test Hello")
    [result] = await settled(live.pool)
    assert result.analysis is not None
    footer = next(c for c in live.slack.of("chat.postMessage") if c.args.get("blocks"))
    message = {"ts": footer.response["ts"], "text": footer.args["text"]}
    await live.click(ids.ANSWER_DETAILS, str(result.id), message=message)
    view = (await live.slack.wait_calls("views.open"))[-1].args["view"]
    assert "the docs (https://evil.example/b)" in json.dumps(view)
    assert_inert(live.slack)


async def test_scenario_answers(live: SlackDriver, hostile: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run all")
    await run_done(live.pool)
    answers = [c for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts")]
    assert answers
    sent = assert_inert(live.slack)
    assert all(t in sent for t in TARGETS)


async def test_ab_pairs_and_reveal(live: SlackDriver, hostile: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    test = await open_test(live, "ab Support@1 Support@2")
    assert pairs(live)
    await live.click(ids.AB_CLOSE, str(test["id"]))
    assert "Closed A/B test" in (await live.next_reply())["text"]
    revealed = [c for c in live.slack.of("chat.update") if "Reply 1 was" in json.dumps(c.args)]
    assert revealed
    sent = assert_inert(live.slack)
    assert all(t in sent for t in TARGETS)


async def test_app_home_after_hostile_tests(live: SlackDriver, hostile: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.command("test Please say <!channel> for me")
    await settled(live.pool)
    view = await open_home(live)
    assert "Last 10 tests" in json.dumps(view)
    assert_inert(live.slack)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
async def test_a_stream_split_anywhere_stays_inert(slack: FakeSlack, size: int) -> None:
    """The model's pieces can cut a link or a mention anywhere; Slack renders the appended
    pieces as one text, so each is neutralised only once what follows cannot change it."""
    ticks = iter(range(10_000))
    stream = AnswerStream(
        AsyncWebClient(token="xoxb-test-token", base_url=slack.api_url),
        channel=CHANNEL,
        thread_ts="1.0",
        team_id=TEAM,
        user_id=USER,
        username="Bot",
        icon_emoji=":robot_face:",
        clock=lambda: float(next(ticks)),  # every piece is flushed at once
    )
    for i in range(0, len(HOSTILE), size):
        await stream.append(HOSTILE[i : i + size])
    ts = await stream.finish()
    shown = streamed_text(slack, str(ts))
    for control in CONTROLS:
        assert control not in shown
    assert "the docs (https://evil.example/b)" in shown
    assert len(slack.of("chat.appendStream")) > 10  # it did stream in many pieces
