"""Saving a real conversation as a simulated customer, end to end through signed requests: the
"Save as scenario" modal offers the kind; choosing "Simulated customer" shows "drafting…", then
the simulation form prefilled with the persona, goal and behaviours the judge drafted from the
customer's messages; Save goes through the simulation form's validation and save. Choosing
"Single messages" again drafts that form again; a failing judge leaves the persona to the
person, and the form's validation still asks for it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot import ids
from bot.blocks.scenario_draft import DRAFTING_PERSONA
from bot.model import persona_drafter
from bot.scenarios import from_thread
from storage import simulations as simulations_repo
from tests.fake_openai import SUGGESTIONS, FakeOpenAI
from tests.slack_driver import CHANNEL, OTHER_TEAM, TEAM, SlackDriver
from tests.test_bot_test import human_reply, settled, start_test
from tests.test_scenario_from_thread import inputs, note_of, values_of

FIRST = "Where is my parcel? Order 48213, paid on 3 March"
SECOND = "It says delivered but nothing came and I am fed up"
# the fake judge fills any free string with this, any free array with its suggestions
FILLED = "it answers more completely"
DRAFTED = [s.rstrip(".") for s in SUGGESTIONS]

# what a judge that read the conversation might answer (the test's data, not the product's)
PERSONA_REPLY = {
    "name": "Parcel never arrived",
    "who": "A customer whose parcel is marked delivered but never came",
    "mood": "fed up",
    "expertise": "non-technical",
    "wants": "the parcel found or a refund",
    "gives_up_when": "the bot asks for the order number again",
    "facts": "order 48213; paid on 3 March; contact ana@example.com",
    "goal": "A trace or a refund is confirmed with a date",
    "behaviours": ["empathetic", "asks for nothing already given", "offers a next step"],
}


async def conversation(live: SlackDriver) -> dict[str, Any]:
    await start_test(live, f"test {FIRST}")
    [first] = await settled(live.pool)
    assert first.thread_ts
    follow_up = human_reply(live.slack, first.thread_ts, SECOND)
    await live.event(follow_up)
    await settled(live.pool, 2)
    return follow_up


def persona_requests(model: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r
        for r in model.requests
        if (r.get("response_format") or {}).get("json_schema", {}).get("name")
        == persona_drafter.SCHEMA_NAME
    ]


async def choose(
    live: SlackDriver, view: dict[str, Any], kind: str, *, team: str = TEAM
) -> dict[str, Any]:
    """The kind radio on the modal as Slack sends it (block_actions in a view), then the view
    the modal ends with after the "drafting…" one."""
    before = len(live.slack.of("views.update"))
    [kind_block] = [b for b in view["blocks"] if b.get("block_id") == ids.SCENARIO_DRAFT_KIND]
    [radio] = kind_block["elements"]
    option = next(o for o in radio["options"] if o["value"] == kind)
    response = await live.interact(
        {
            "type": "block_actions",
            "team": {"id": team, "domain": "example"},
            "user": {"id": "U0001" if team == TEAM else "U9001", "team_id": team},
            "api_app_id": "A0001",
            "trigger_id": "t-kind",
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [
                {
                    "action_id": ids.SCENARIO_DRAFT_KIND,
                    "block_id": ids.SCENARIO_DRAFT_KIND,
                    "type": "radio_buttons",
                    "selected_option": option,
                }
            ],
        }
    )
    assert response.status == 200
    calls = await live.slack.wait_calls("views.update", count=before + 2, timeout=10)
    drafting, final = calls[before], calls[before + 1]
    assert drafting.response["ok"] and final.response["ok"], final.response
    assert drafting.args["hash"] == view["hash"]
    assert final.args["hash"] == drafting.response["view"]["hash"]
    shown: dict[str, Any] = final.response["view"]
    return shown


async def single_form(live: SlackDriver, follow_up: dict[str, Any]) -> dict[str, Any]:
    """The Save-as-scenario modal once drafted (single messages)."""
    before = len(live.slack.of("views.update"))
    await live.shortcut(ids.SCENARIO_FROM_THREAD, follow_up)
    update = (await live.slack.wait_calls("views.update", count=before + 1, timeout=10))[before]
    assert update.response["ok"], update.response
    view: dict[str, Any] = update.response["view"]
    assert view["callback_id"] == ids.SCENARIO_MODAL
    return view


async def test_a_thread_saved_as_a_simulated_customer(live: SlackDriver, model: FakeOpenAI) -> None:
    follow_up = await conversation(live)
    model.json_hook = lambda body: (
        json.dumps(PERSONA_REPLY)
        if body["response_format"]["json_schema"]["name"] == persona_drafter.SCHEMA_NAME
        else None
    )
    view = await single_form(live, follow_up)
    # the modal offers the kind, "single messages" chosen
    [kind_block] = [b for b in view["blocks"] if b.get("block_id") == ids.SCENARIO_DRAFT_KIND]
    assert kind_block["elements"][0]["initial_option"]["value"] == ids.SCENARIO_KIND_SINGLE

    form = await choose(live, view, ids.SCENARIO_KIND_SIMULATED)
    drafting = live.slack.of("views.update")[-2].args["view"]
    assert DRAFTING_PERSONA in json.dumps(drafting, ensure_ascii=False)
    assert "submit" not in drafting
    assert form["callback_id"] == ids.SIMULATION_MODAL and form["submit"]["text"] == "Save"
    shown = inputs(form)
    assert shown[ids.SIMULATION_NAME] == "Parcel never arrived"
    assert shown[ids.SIMULATION_WHO] == PERSONA_REPLY["who"]
    assert shown[ids.SIMULATION_MOOD] == "fed up"
    assert shown[ids.SIMULATION_FACTS] == PERSONA_REPLY["facts"]  # `@` kept: plain text only
    assert shown[ids.SIMULATION_GOAL] == PERSONA_REPLY["goal"]
    assert shown[ids.SIMULATION_BEHAVIOURS].splitlines() == PERSONA_REPLY["behaviours"]
    assert "drafted by the judge model `fake-model` from 2 customer messages" in note_of(form)
    # the judge read the customer's messages (the order number among them), not the answers
    [request] = persona_requests(model)
    user = request["messages"][-1]["content"]
    assert "48213" in user and SECOND in user
    assert not any(r.answer and r.answer in user for r in await settled(live.pool, 2))

    # the person edits the mood and saves through the simulation form
    values = values_of(form)
    values[ids.SIMULATION_MOOD][ids.SIMULATION_MOOD + ids.INPUT_SUFFIX]["value"] = "furious"
    response = await live.submit_view(form, values)
    assert response.status == 200 and response.body == ""
    saved = await simulations_repo.find_simulation(
        live.pool, team_id=TEAM, name="Parcel never arrived"
    )
    assert saved.persona.mood == "furious"
    assert saved.persona.facts == PERSONA_REPLY["facts"]
    assert saved.goal == PERSONA_REPLY["goal"]
    assert saved.behaviours == tuple(PERSONA_REPLY["behaviours"])
    confirmation = await live.reply_for(live.last_shortcut_key)
    assert "Created simulated customer *Parcel never arrived*" in confirmation


async def test_the_fake_judge_fills_the_persona_schema_by_shape(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    """No hook: the fake judge answers the schema by its shape; the form is whole and saves."""
    follow_up = await conversation(live)
    form = await choose(live, await single_form(live, follow_up), ids.SCENARIO_KIND_SIMULATED)
    shown = inputs(form)
    for field in (ids.SIMULATION_WHO, ids.SIMULATION_WANTS, ids.SIMULATION_GOAL):
        assert shown[field] == FILLED
    assert shown[ids.SIMULATION_BEHAVIOURS].splitlines() == DRAFTED
    # the draft's name is the fake's fixed string; taken names are numbered, simulations too
    assert shown[ids.SIMULATION_NAME] == FILLED
    await live.submit_view(form, values_of(form))
    saved = await simulations_repo.find_simulation(live.pool, team_id=TEAM, name=FILLED)
    assert saved.persona.expertise == FILLED
    # the same thread saved again: the simulation's name is taken, so the draft's is numbered
    again = await choose(live, await single_form(live, follow_up), ids.SCENARIO_KIND_SIMULATED)
    assert inputs(again)[ids.SIMULATION_NAME] == f"{FILLED} 2"


async def test_choosing_single_messages_again_drafts_that_form(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    follow_up = await conversation(live)
    first = await single_form(live, follow_up)
    simulated = await choose(live, first, ids.SCENARIO_KIND_SIMULATED)
    back = await choose(live, simulated, ids.SCENARIO_KIND_SINGLE)
    assert back["callback_id"] == ids.SCENARIO_MODAL
    assert inputs(back)[ids.SCENARIO_MESSAGES].splitlines() == [FIRST, SECOND]
    [kind_block] = [b for b in back["blocks"] if b.get("block_id") == ids.SCENARIO_DRAFT_KIND]
    assert kind_block["elements"][0]["initial_option"]["value"] == ids.SCENARIO_KIND_SINGLE


async def test_a_failing_judge_leaves_the_persona_to_the_person(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    follow_up = await conversation(live)
    view = await single_form(live, follow_up)
    model.judge_reply = "{not json"
    form = await choose(live, view, ids.SCENARIO_KIND_SIMULATED)
    assert form["callback_id"] == ids.SIMULATION_MODAL
    assert "could not draft the simulated customer" in note_of(form)
    shown = inputs(form)
    assert shown[ids.SIMULATION_WHO] == "" and shown[ids.SIMULATION_GOAL] == ""
    assert shown[ids.SIMULATION_NAME] == from_thread.fallback_name(FIRST) != ""
    # Save asks for what the simulator needs, through the form's own validation
    body = json.loads((await live.submit_view(form, values_of(form))).body)
    assert body["response_action"] == "errors"
    assert "is needed" in body["errors"][ids.SIMULATION_WHO]
    assert await live.pool.fetchval("SELECT count(*) FROM simulation_scenarios") == 3  # the seeds


@pytest.mark.parametrize("forged", ["no thread", "other workspace"])
async def test_a_forged_or_foreign_kind_choice_drafts_nothing(
    live: SlackDriver, model: FakeOpenAI, forged: str
) -> None:
    follow_up = await conversation(live)
    view = await single_form(live, follow_up)
    before = len(live.slack.of("views.update"))
    if forged == "no thread":
        bad = {**view, "private_metadata": json.dumps({"id": None, "c": CHANNEL})}
        await choose_no_wait(live, bad)
        # nothing to wait for when nothing happens: give the listener time to do something
        await asyncio.sleep(0.5)
        assert len(live.slack.of("views.update")) == before
    else:
        form = await choose(live, view, ids.SCENARIO_KIND_SIMULATED, team=OTHER_TEAM)
        assert from_thread.NOT_A_CONVERSATION in json.dumps(form, ensure_ascii=False)
    assert not persona_requests(model)


async def choose_no_wait(live: SlackDriver, view: dict[str, Any]) -> None:
    response = await live.interact(
        {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": "U0001", "team_id": TEAM},
            "api_app_id": "A0001",
            "trigger_id": "t-kind",
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "actions": [
                {
                    "action_id": ids.SCENARIO_DRAFT_KIND,
                    "block_id": ids.SCENARIO_DRAFT_KIND,
                    "type": "radio_buttons",
                    "selected_option": {"value": ids.SCENARIO_KIND_SIMULATED},
                }
            ],
        }
    )
    assert response.status == 200
