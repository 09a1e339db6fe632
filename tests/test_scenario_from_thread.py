"""Saving a real conversation as a scenario, end to end through signed requests: the "Save as
scenario" message shortcut (and the answer's button) opens a modal at once, the judge model's
draft replaces it with the scenario form, and Save stores the conversation's customer messages
with the behaviours as edited. A failing or slow judge still gives a usable form; a message
outside our conversations says so; a closed modal is left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.blocks.scenario_draft import DRAFTING
from bot.model.behaviour_drafter import SCHEMA_NAME
from bot.scenarios import from_thread
from storage import scenarios as scenarios_repo
from tests.fake_openai import SUGGESTIONS, Failure, FakeOpenAI
from tests.slack_driver import CHANNEL, OTHER_TEAM, TEAM, SlackDriver
from tests.test_bot_test import human_reply, settled, start_test
from tests.test_dm import DM, dm_message

FIRST = "My parcel never arrived"
SECOND = "It says delivered\nbut nothing came"  # two lines: one message in the scenario
SECOND_LINE = "It says delivered but nothing came"
# the fake judge fills any array of free strings with its suggestions, any string with this
DRAFTED = [s.rstrip(".") for s in SUGGESTIONS]
DRAFTED_NAME = "it answers more completely"


async def conversation(live: SlackDriver) -> dict[str, Any]:
    """A /bot test thread with a follow-up; the follow-up message as Slack has it."""
    await start_test(live, f"test {FIRST}")
    [first] = await settled(live.pool)
    assert first.thread_ts
    follow_up = human_reply(live.slack, first.thread_ts, SECOND)
    await live.event(follow_up)
    await settled(live.pool, 2)
    return follow_up


def values_of(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack submits for a form nobody edited: each input's initial value."""
    return {
        b["block_id"]: {
            b["element"]["action_id"]: {
                "type": "plain_text_input",
                "value": b["element"].get("initial_value"),
            }
        }
        for b in view["blocks"]
        if b["type"] == "input"
    }


def inputs(view: dict[str, Any]) -> dict[str, str]:
    return {
        b["block_id"]: b["element"].get("initial_value", "")
        for b in view["blocks"]
        if b["type"] == "input"
    }


def note_of(view: dict[str, Any]) -> str:
    return " ".join(
        e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]
    )


async def filled(live: SlackDriver) -> dict[str, Any]:
    """The view the drafting modal was replaced with."""
    [update] = await live.slack.wait_calls("views.update", timeout=10)
    assert update.response["ok"], update.response
    [opened] = live.slack.of("views.open")
    assert update.args["view_id"] == opened.response["view"]["id"]
    assert update.args["hash"] == opened.response["view"]["hash"]
    view: dict[str, Any] = update.args["view"]
    return view


def drafter_requests(model: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r
        for r in model.requests
        if (r.get("response_format") or {}).get("json_schema", {}).get("name") == SCHEMA_NAME
    ]


async def test_shortcut_drafts_a_scenario_a_person_edits_and_saves(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    follow_up = await conversation(live)
    slack = live.slack
    response = await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    assert response.status == 200 and response.body == ""

    # opened at once, without a Save button, while the judge drafts
    [opened] = await slack.wait_calls("views.open")
    waiting = opened.args["view"]
    assert waiting["callback_id"] == ids.SCENARIO_DRAFT_NOTICE and "submit" not in waiting
    assert DRAFTING in json.dumps(waiting, ensure_ascii=False)

    view = await filled(live)
    assert view["callback_id"] == ids.SCENARIO_MODAL and view["submit"]["text"] == "Save"
    shown = inputs(view)
    assert shown[ids.SCENARIO_MESSAGES].splitlines() == [
        FIRST,
        SECOND_LINE,
    ]
    assert shown[ids.SCENARIO_BEHAVIOURS].splitlines() == DRAFTED
    assert shown[ids.SCENARIO_NAME] == DRAFTED_NAME
    assert shown[ids.SCENARIO_DESCRIPTION] == from_thread.CHANNEL_DESCRIPTION
    assert "drafted by the judge model `fake-model` from 2 customer messages" in note_of(view)

    # the judge was asked once, in its own schema, about the customer's messages only
    [request] = drafter_requests(model)
    user = request["messages"][-1]["content"]
    assert FIRST in user and SECOND_LINE in user
    answers = [r.answer for r in await settled(live.pool, 2)]
    assert not any(a and a in user for a in answers)

    # the person edits the name and one behaviour, then saves through the scenario form
    values = values_of(view)
    values[ids.SCENARIO_NAME][ids.SCENARIO_NAME + ids.INPUT_SUFFIX]["value"] = "Lost parcel"
    values[ids.SCENARIO_BEHAVIOURS][ids.SCENARIO_BEHAVIOURS + ids.INPUT_SUFFIX]["value"] = (
        f"{DRAFTED[0]}\nempathetic"
    )
    response = await live.submit_view(view, values)
    assert response.status == 200 and response.body == ""
    saved = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name="Lost parcel")
    assert saved.messages == (FIRST, SECOND_LINE)
    assert saved.behaviours == (DRAFTED[0], "empathetic")
    assert saved.description == from_thread.CHANNEL_DESCRIPTION
    # confirmed where the shortcut was used, through its response_url
    confirmation = await live.reply_for(live.last_shortcut_key)
    assert "Created scenario *Lost parcel*: 2 messages, 2 expected behaviours" in confirmation


@pytest.mark.parametrize(
    ("breaks", "said"),
    [
        ("invalid", "could not draft the expected behaviours (the judge model's reply was not"),
        ("down", "could not draft the expected behaviours"),
        ("slow", "did not draft the expected behaviours within 0.2 s"),
    ],
)
async def test_a_failing_judge_still_gives_a_usable_form(
    live: SlackDriver,
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    breaks: str,
    said: str,
) -> None:
    follow_up = await conversation(live)
    if breaks == "invalid":
        model.judge_reply = "{not json"
    elif breaks == "down":
        model.fail_next(Failure("server_error"), Failure("server_error"))
    else:
        monkeypatch.setattr(from_thread, "DRAFT_WAIT_S", 0.2)
        model.judge_delay_s = 3.0
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    view = await filled(live)
    assert view["callback_id"] == ids.SCENARIO_MODAL
    assert said in note_of(view) and "add them yourself" in note_of(view)
    shown = inputs(view)
    assert shown[ids.SCENARIO_BEHAVIOURS] == ""
    # no name from the judge: one from the first message
    assert shown[ids.SCENARIO_NAME] == FIRST
    await live.submit_view(view, values_of(view))
    saved = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name=FIRST)
    assert saved.messages == (FIRST, SECOND_LINE)
    assert saved.behaviours == ()


async def test_a_taken_name_is_numbered(live: SlackDriver, model: FakeOpenAI) -> None:
    follow_up = await conversation(live)
    model.judge_reply = json.dumps({"name": "Billing questions", "behaviours": ["calm"]})
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    assert inputs(await filled(live))[ids.SCENARIO_NAME] == "Billing questions 2"


async def test_hostile_draft_arrives_inert(live: SlackDriver, model: FakeOpenAI) -> None:
    follow_up = await conversation(live)
    model.judge_reply = json.dumps(
        {
            "name": "<!channel> @here",
            "behaviours": ["- <!here> ping everyone.", "polite, warm", "Polite", "x\u0000y\u202e"],
        }
    )
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    view = await filled(live)
    shown = inputs(view)
    assert shown[ids.SCENARIO_NAME] == "<!channel> here"
    assert shown[ids.SCENARIO_BEHAVIOURS].splitlines() == [
        "<!here> ping everyone",
        "polite",
        "warm",
        "x y",
    ]
    # model text is only ever a plain-text input's initial value, never mrkdwn
    assert "<!" not in note_of(view)


@pytest.mark.parametrize("where", ["no thread", "other workspace", "scenario run thread"])
async def test_a_message_outside_our_conversations_says_so(
    live: SlackDriver, model: FakeOpenAI, where: str
) -> None:
    if where == "no thread":
        await live.reply_text("new Support")
        message = {"ts": live.slack.next_ts(), "user": "U0002", "text": "lunch?"}
        response = await live.shortcut(ids.SCENARIO_FROM_THREAD, message)
    elif where == "other workspace":
        follow_up = await conversation(live)
        response = await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up, team=OTHER_TEAM)
    else:
        await live.reply_text("new Support")
        # a thread the app posted in but never registered as a conversation
        message = {"ts": "1700000999.000100", "thread_ts": "1700000998.000100", "text": "x"}
        response = await live.shortcut(ids.SCENARIO_FROM_THREAD, message)
    assert response.status == 200
    view = await filled(live)
    assert view["callback_id"] == ids.SCENARIO_DRAFT_NOTICE and "submit" not in view
    assert from_thread.NOT_A_CONVERSATION in json.dumps(view, ensure_ascii=False)
    assert not drafter_requests(model)


async def test_anyone_may_save_as_for_scenario_new(live: SlackDriver) -> None:
    """Creating a scenario needs no editor role (as `/bot scenario new`): a member who is not
    an editor gets the form and saves it."""
    follow_up = await conversation(live)
    live.slack.users["U0003"] = {"id": "U0003", "team_id": TEAM, "is_admin": False}
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up, user="U0003")
    view = await filled(live)
    response = await live.submit_view(view, values_of(view), user="U0003")
    assert response.status == 200 and response.body == ""
    saved = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name=DRAFTED_NAME)
    assert len(saved.messages) == 2


async def test_closing_the_modal_before_the_draft_leaves_it_closed(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    follow_up = await conversation(live)
    model.judge_delay_s = 0.5
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    [opened] = await live.slack.wait_calls("views.open")
    live.slack.close_view(opened.response["view"]["id"])
    [update] = await live.slack.wait_calls("views.update", timeout=10)
    assert update.response == {"ok": False, "error": "not_found"}
    await live.slack.wait_for(lambda _: bool(drafter_requests(model)))
    assert len(live.slack.of("views.update")) == 1  # nothing else is tried
    assert await live.pool.fetchval("SELECT count(*) FROM scenarios") == 3  # the seed only


async def test_the_answer_button_saves_its_dm_conversation(live: SlackDriver) -> None:
    slack = live.slack
    await live.reply_text("new Support")
    root = dm_message(slack, "Where is my order?")
    await live.event(root)
    [first] = await settled(live.pool)
    await live.event(dm_message(slack, "use Support", thread_ts=root["ts"]))  # not a message
    await live.event(dm_message(slack, "Can I get a refund?", thread_ts=root["ts"]))
    await settled(live.pool, 2)
    await live.click(ids.ANSWER_SAVE_SCENARIO, str(first.id), channel=DM)
    view = await filled(live)
    shown = inputs(view)
    assert shown[ids.SCENARIO_MESSAGES].splitlines() == [
        "Where is my order?",
        "Can I get a refund?",
    ]
    assert shown[ids.SCENARIO_DESCRIPTION] == "Saved from a conversation in the app's messages."
    await live.submit_view(view, values_of(view))
    saved = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name=DRAFTED_NAME)
    assert saved.behaviours == tuple(DRAFTED)


async def test_the_answer_button_of_another_workspace_finds_nothing(live: SlackDriver) -> None:
    await start_test(live)
    [first] = await settled(live.pool)
    await live.click(ids.ANSWER_SAVE_SCENARIO, str(first.id), team=OTHER_TEAM)
    await live.slack.wait_for(
        lambda s: any(c.args.get("text") == from_thread.NOT_HERE for c in s.responses)
    )
    assert not live.slack.of("views.open")


async def test_an_expired_trigger_is_said_ephemerally(live: SlackDriver) -> None:
    follow_up = await conversation(live)
    live.slack.fail_next("views.open", error="expired_trigger_id")
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up, channel=CHANNEL)
    assert await live.reply_for(live.last_shortcut_key) == from_thread.OPEN_EXPIRED
    assert not live.slack.of("views.update")
