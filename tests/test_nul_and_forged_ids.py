"""NUL bytes (which PostgreSQL text cannot hold) are refused with a clear message before anything
is posted or stored, wherever people's text comes in; an id no row can have, in a form's
private_metadata or a button, is answered as out of date, never with a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.messages import NUL_IN_TEXT
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import SlackDriver
from tests.test_bot_test import human_reply, settled
from tests.test_config_modal import form as config_form
from tests.test_knowledge import values as knowledge_values
from tests.test_scenarios import form as scenario_form

HUGE = 10**30  # no bigint holds it


async def opened(driver: SlackDriver, text: str) -> dict[str, Any]:
    """The form `text` opens (the latest views.open may be an earlier form's)."""
    before = len(driver.slack.of("views.open"))
    await driver.command(text)
    view: dict[str, Any] = (await driver.slack.wait_calls("views.open", before + 1))[-1].args[
        "view"
    ]
    return view


async def versions(driver: SlackDriver) -> int:
    return int(await driver.pool.fetchval("SELECT count(*) FROM profile_versions"))


@pytest.mark.parametrize(
    "text",
    [
        "set name A\x00B",
        "set instructions Say\x00hi",
        "new Sup\x00port",
        'knowledge add policy "Refunds\x00 in 30 days"',
        "test Hello\x00there",
        "scenario run Billing\x00questions",
        'ab Support@1 Support@1 "a\x00b"',
    ],
)
async def test_nul_in_a_command_is_refused_first(live: SlackDriver, text: str) -> None:
    await live.reply_text("new Support")
    before = await versions(live)
    calls = len(live.slack.calls)
    assert await live.reply_text(text) == NUL_IN_TEXT
    assert await versions(live) == before
    assert live.slack.calls[calls:] == []  # nothing posted, no form opened
    assert await live.pool.fetchval("SELECT count(*) FROM test_results") == 0


async def test_nul_in_the_config_form(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await opened(driver, "config")
    response = await driver.submit_view(view, config_form(bot_name="A\x00va"))
    assert json.loads(response.body)["errors"] == {"bot_name": NUL_IN_TEXT}
    assert await versions(driver) == 1


async def test_nul_in_the_knowledge_form(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await opened(driver, "knowledge")
    response = await driver.submit_view(view, knowledge_values(company="We\x00sell tea."))
    assert json.loads(response.body)["errors"] == {ids.KNOWLEDGE_COMPANY: NUL_IN_TEXT}
    assert await versions(driver) == 1


async def test_nul_in_the_scenario_form(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await opened(driver, "scenario new")
    before = await driver.pool.fetchval("SELECT count(*) FROM scenarios")
    response = await driver.submit_view(view, scenario_form("Tea", "Where is\x00 my tea?"))
    assert json.loads(response.body)["errors"] == {ids.SCENARIO_MESSAGES: NUL_IN_TEXT}
    assert await driver.pool.fetchval("SELECT count(*) FROM scenarios") == before


async def test_nul_in_a_follow_up_gets_a_notice(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.command("test Hello")
    [result] = await settled(live.pool)
    reply = human_reply(live.slack, str(result.thread_ts), "and\x00 then?")
    await live.event(reply)
    await live.event(reply, retry_num=1)  # a redelivery is not answered twice
    await live.slack.wait_for(
        lambda s: any(NUL_IN_TEXT in str(c.args.get("text")) for c in s.of("chat.postMessage"))
    )
    notices = [c for c in live.slack.of("chat.postMessage") if NUL_IN_TEXT in c.args["text"]]
    assert len(notices) == 1 and notices[0].args["thread_ts"] == result.thread_ts
    assert await live.pool.fetchval("SELECT count(*) FROM test_results") == 1
    assert len(live.slack.of("chat.startStream")) == 1


def forged(view: dict[str, Any], **changes: Any) -> dict[str, Any]:
    meta = json.loads(view["private_metadata"])
    return {**view, "private_metadata": json.dumps({**meta, **changes})}


@pytest.mark.parametrize("bad", [HUGE, -1, 0, "12", True, None, 1.5])
async def test_forged_ids_in_form_metadata(driver: SlackDriver, bad: Any) -> None:
    await driver.reply_text("new Support")
    config = await opened(driver, "config")
    response = await driver.submit_view(forged(config, p=bad), config_form())
    assert response.status == 200
    assert "out of date" in json.loads(response.body)["errors"][ids.FIELD_BOT_NAME]

    knowledge = await opened(driver, "knowledge")
    response = await driver.submit_view(forged(knowledge, p=bad), knowledge_values(company="x"))
    assert response.status == 200
    assert "no longer exists" in json.loads(response.body)["errors"][ids.KNOWLEDGE_COMPANY]

    scenario = await opened(driver, "scenario edit Billing questions")
    response = await driver.submit_view(
        forged(scenario, id=bad), scenario_form("Billing questions", "Why?")
    )
    assert response.status == 200
    if bad is not None:  # no id is a new scenario, which is fine
        assert "out of date" in json.loads(response.body)["errors"][ids.SCENARIO_NAME]
    assert await versions(driver) == 1


OUT_OF_DATE = "This button is out of date."  # a value that cannot be an id
NO_MATCH = "That doesn't match anything in this workspace; the message may be out of date."


@pytest.mark.parametrize(
    ("action_id", "value", "expected"),
    [
        (ids.ANSWER_DETAILS, str(HUGE), OUT_OF_DATE),
        (ids.ANSWER_UP, "12\x00", OUT_OF_DATE),
        (ids.CARD_HISTORY, str(2**63), OUT_OF_DATE),
        (ids.HISTORY_MORE, json.dumps({"p": HUGE, "before": 5}), NO_MATCH),
        (ids.AB_VOTE_1, json.dumps({"m": HUGE, "c": "1"}), NO_MATCH),
        (ids.SCENARIO_RUN, str(HUGE), NO_MATCH),
        (ids.STATS_CHART, json.dumps({"p": HUGE, "d": 30}), NO_MATCH),
    ],
)
async def test_forged_ids_in_buttons(
    live: SlackDriver, action_id: str, value: str, expected: str
) -> None:
    await live.reply_text("new Support")
    response = await live.click(action_id, value)
    assert response.status == 200
    assert (await live.next_reply())["text"] == expected
