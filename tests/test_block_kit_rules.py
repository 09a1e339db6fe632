"""The fake Slack refuses what Slack refuses, and a refused payload fails the test that sent it."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.block_kit_rules import message_problems, stream_problems, view_problems
from tests.fake_slack import FakeSlack


def section(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def button(**overrides: Any) -> dict[str, Any]:
    element = {
        "type": "button",
        "action_id": "a",
        "text": {"type": "plain_text", "text": "Go"},
        "value": "1",
    }
    return {"type": "actions", "elements": [{**element, **overrides}]}


def modal(**overrides: Any) -> dict[str, Any]:
    view = {
        "type": "modal",
        "callback_id": "c",
        "title": {"type": "plain_text", "text": "Title"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section("hi")],
    }
    return {**view, **overrides}


GOOD_MESSAGES = [
    {"text": "plain"},
    {"text": "x", "blocks": [section("a" * 3000), {"type": "divider"}, button()]},
    {"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h"}}]},
    {"text": "x", "blocks": [{"type": "markdown", "text": "**b**" * 2000}]},
    {"text": "x", "blocks": [section("s")] * 50},
]
BAD_MESSAGES = [
    ({"text": "x" * 40_001}, "text"),
    ({"text": ""}, "no_text"),
    ({"text": "x", "blocks": [section("a" * 3001)]}, "3000"),
    ({"text": "x", "blocks": [section("")]}, "empty"),
    ({"text": "x", "blocks": [section("s")] * 51}, "51 blocks"),
    (
        {
            "text": "x",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        },
        "150",
    ),
    ({"text": "x", "blocks": [button(text={"type": "plain_text", "text": "b" * 76})]}, "75"),
    ({"text": "x", "blocks": [button(action_id="a" * 256)]}, "255"),
    ({"text": "x", "blocks": [button(value="v" * 2001)]}, "2000"),
    (
        {
            "text": "x",
            "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        },
        "2000",
    ),
    (
        {
            "text": "x",
            "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        },
        "10",
    ),
    ({"text": "x", "blocks": [{**section("s"), "colour": "red"}]}, "not a field"),
    ({"text": "x", "blocks": [{"type": "carousel_of_doom"}]}, "unknown block"),
    ({"text": "x", "blocks": [{"type": "markdown", "text": "m" * 7000}] * 2}, "12000"),
    ({"text": "x", "blocks": "[]"}, "array"),
]


@pytest.mark.parametrize("args", GOOD_MESSAGES)
def test_good_messages_pass(args: dict[str, Any]) -> None:
    assert message_problems(args) == []


@pytest.mark.parametrize(("args", "said"), BAD_MESSAGES)
def test_bad_messages_are_refused(args: dict[str, Any], said: str) -> None:
    problems = message_problems(args)
    assert problems and said in " ".join(problems)


@pytest.mark.parametrize(
    ("view", "said"),
    [
        (modal(title={"type": "plain_text", "text": "t" * 25}), "24"),
        (modal(private_metadata="m" * 3001), "private_metadata"),
        (modal(blocks=[section("s")] * 101), "100"),
        (modal(type="sheet"), "modal or home"),
        (
            modal(
                blocks=[
                    {
                        "type": "input",
                        "block_id": "b",
                        "label": {"type": "plain_text", "text": "L"},
                        "element": {"type": "plain_text_input", "action_id": "i"},
                    }
                ]
            ),
            "submit",
        ),
    ],
)
def test_bad_views_are_refused(view: dict[str, Any], said: str) -> None:
    problems = view_problems(view)
    assert problems and said in " ".join(problems)


def test_good_views_pass() -> None:
    assert view_problems(modal()) == []
    assert view_problems({"type": "home", "blocks": [section("s")] * 100}) == []


def test_markdown_text_is_at_most_12000() -> None:
    assert stream_problems({"markdown_text": "m" * 12_000}) == []
    assert stream_problems({"markdown_text": "m" * 12_001})


async def test_the_fake_answers_like_slack_and_records_the_violation(slack: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-test-token", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C1", text="x", blocks=[section("")])
    assert refused.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id="t", view=modal(private_metadata="m" * 3001))
    assert refused.value.response["error"] == "invalid_arguments"
    assert [v.method for v in slack.violations] == ["chat.postMessage", "views.open"]
    # the `slack` fixture fails any test that leaves violations; this one made them on purpose
    slack.violations.clear()
