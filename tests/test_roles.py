"""The editor role: who may change profiles, knowledge and scenarios, and `/bot editors`."""

from __future__ import annotations

import json

import pytest

from bot import ids
from storage import profiles as repo
from tests.slack_driver import TEAM, SlackDriver

MEMBER = "U0MEMBER"
ADMIN = "U0001"  # an admin in the fake Slack


@pytest.fixture
async def setup(driver: SlackDriver) -> SlackDriver:
    driver.slack.users[MEMBER] = {"id": MEMBER, "is_admin": False, "is_owner": False}
    await driver.reply_text("new Support")
    return driver


@pytest.mark.parametrize(
    "text",
    [
        "new Sales",
        "set formality 80",
        "use Support",
        "default Support",
        "rollback 1",
        "config",
        "knowledge",
        'knowledge add policy "x"',
        "scenario edit Billing questions",
        "scenario delete Billing questions",
        "editors add <@U0OTHER|other>",
    ],
)
async def test_members_cannot_edit(setup: SlackDriver, text: str) -> None:
    before = await setup.pool.fetchval("SELECT count(*) FROM profile_versions")
    reply = await setup.reply_text(text, user=MEMBER)
    assert reply.startswith("Only editors can ")
    assert "workspace admins and owners" in reply
    assert await setup.pool.fetchval("SELECT count(*) FROM profile_versions") == before
    assert setup.slack.of("views.open") == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("show", "ROMASHKA Assistant (Support v1)"),
        ("profiles", "1 bot profile"),
        ("history", "History of Support"),
        ("knowledge show", "Knowledge of Support v1: 11 items"),
        ("scenarios", "3 test scenarios"),
        ("editors list", f"<@{ADMIN}> (first editor)"),
        ("help", "*ROMASHKA bot playground*"),
    ],
)
async def test_members_can_look(setup: SlackDriver, text: str, fragment: str) -> None:
    # the content itself: a refusal or the generic failure text must not pass
    assert fragment in await setup.reply_text(text, user=MEMBER)


async def test_an_added_editor_can_edit_and_removal_takes_effect(setup: SlackDriver) -> None:
    assert "is now an editor" in await setup.reply_text(f"editors add <@{MEMBER}|member>")
    assert "already an editor" in await setup.reply_text(f"editors add <@{MEMBER}>")
    assert "Saved *Support* v2" in await setup.reply_text("set empathy 70", user=MEMBER)
    listed = await setup.reply_text("editors list", user=MEMBER)
    assert f"<@{MEMBER}> (added by <@{ADMIN}>)" in listed
    assert "no longer an editor" in await setup.reply_text(f"editors remove <@{MEMBER}|m>")
    assert (await setup.reply_text("set empathy 10", user=MEMBER)).startswith("Only editors")
    assert "was not on the editors list" in await setup.reply_text(f"editors remove <@{MEMBER}>")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("editors", "Usage: `/bot editors add @person`"),
        ("editors add ana", "Name the person with an @mention"),
        ("editors promote <@U1>", "Usage"),
    ],
)
async def test_bad_editors_commands(setup: SlackDriver, text: str, fragment: str) -> None:
    assert fragment in await setup.reply_text(text)


async def test_a_demoted_editor_cannot_save_an_open_form(setup: SlackDriver) -> None:
    await setup.reply_text(f"editors add <@{MEMBER}>")
    await setup.command("config", user=MEMBER)
    view = (await setup.slack.wait_calls("views.open"))[-1].args["view"]
    await setup.reply_text(f"editors remove <@{MEMBER}>")
    state = {
        b["block_id"]: {
            b["element"]["action_id"]: (
                {"type": "static_select", "selected_option": b["element"]["initial_option"]}
                if b["element"]["type"] == "static_select"
                else {"type": b["element"]["type"], "value": b["element"].get("initial_value")}
            )
        }
        for b in view["blocks"]
    }
    state["formality"]["formality_input"]["value"] = "99"
    response = await setup.submit_view(view, state, user=MEMBER)
    body = json.loads(response.body)
    assert "Only editors can save this" in body["errors"][ids.FIELD_BOT_NAME]
    profile = await repo.find_profile(setup.pool, team_id=TEAM, name="Support")
    assert profile.current_version == 1


async def test_users_info_failure_is_a_refusal_not_a_crash(setup: SlackDriver) -> None:
    setup.slack.users.pop(MEMBER)
    assert (await setup.reply_text("set formality 1", user=MEMBER)).startswith("Only editors")


async def test_escaped_command_text_is_read_as_typed(setup: SlackDriver) -> None:
    reply = await setup.reply_text("set instructions Say &lt;thanks&gt; &amp; smile")
    assert "`Say &lt;thanks&gt; &amp; smile`" in reply  # shown escaped, stored as typed
    profile = await repo.find_profile(setup.pool, team_id=TEAM, name="Support")
    current = await repo.current_version(setup.pool, team_id=TEAM, profile_id=profile.id)
    assert current.fields.custom_instructions == "Say <thanks> & smile"
