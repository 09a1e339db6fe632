"""`/bot config`: the modal's JSON, inline validation errors, saving, and Slack failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from storage import profiles as repo
from tests.slack_driver import TEAM, SlackDriver


def form(**overrides: str | None) -> dict[str, Any]:
    values: dict[str, str | None] = {
        "bot_name": "Ava",
        "avatar_emoji": ":sparkles:",
        "formality": "80",
        "enthusiasm": "20",
        "technical_depth": "90",
        "empathy": "70",
        "response_style": "detailed",
        "custom_instructions": "Always offer a next step.",
        "model": "",
    }
    values.update(overrides)
    state: dict[str, Any] = {}
    for key, value in values.items():
        action = key + ids.INPUT_SUFFIX
        if key == "response_style":
            selected = {"value": value} if value is not None else None
            state[key] = {action: {"type": "static_select", "selected_option": selected}}
        elif key in {"formality", "enthusiasm", "technical_depth", "empathy"}:
            state[key] = {action: {"type": "number_input", "value": value}}
        else:
            state[key] = {action: {"type": "plain_text_input", "value": value}}
    return state


async def open_modal(driver: SlackDriver, text: str = "config") -> dict[str, Any]:
    await driver.command(text)
    calls = await driver.slack.wait_calls("views.open")
    view: dict[str, Any] = calls[-1].args["view"]
    return view


async def test_modal_is_prefilled_from_current_version(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    view = await open_modal(driver)
    assert view["callback_id"] == ids.CONFIG_MODAL
    assert view["title"]["text"] == "Edit Support"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks["bot_name"]["element"]["initial_value"] == "ROMASHKA Assistant"
    formality = blocks["formality"]["element"]
    assert formality["type"] == "number_input"
    assert (formality["initial_value"], formality["min_value"], formality["max_value"]) == (
        "80",
        "0",
        "100",
    )
    assert formality["is_decimal_allowed"] is False
    assert blocks["response_style"]["element"]["initial_option"]["value"] == "conversational"
    assert blocks["custom_instructions"]["element"]["max_length"] == 2000
    assert blocks["custom_instructions"]["optional"] is True
    assert blocks["model"]["optional"] is True
    assert json.loads(view["private_metadata"])["v"] == 2


async def test_valid_submission_saves_version_and_confirms(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    response = await driver.submit_view(view, form())
    assert response.status == 200 and response.body == ""
    confirmation = await driver.next_reply()
    assert "Saved *Support* v2" in confirmation["text"]
    assert "formality: `50` → `80`" in confirmation["text"]
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    current = await repo.current_version(driver.pool, team_id=TEAM, profile_id=profile.id)
    f = current.fields
    assert (f.bot_name, f.avatar_emoji, f.formality, f.enthusiasm) == ("Ava", ":sparkles:", 80, 20)
    assert (f.technical_depth, f.empathy, f.response_style.value) == (90, 70, "detailed")
    assert (f.custom_instructions, f.model) == ("Always offer a next step.", None)


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"bot_name": "   "}, {"bot_name": "cannot be empty"}),
        ({"bot_name": "\u202e\u200b\u202e"}, {"bot_name": "one visible character"}),
        ({"bot_name": "x" * 81}, {"bot_name": "at most 80"}),
        ({"avatar_emoji": "🌼"}, {"avatar_emoji": "emoji shortcode"}),
        ({"formality": "101"}, {"formality": "from 0 to 100"}),
        (
            {"empathy": "-5", "enthusiasm": None},
            {"empathy": "from 0 to 100", "enthusiasm": "whole"},
        ),
        ({"technical_depth": "12.5"}, {"technical_depth": "whole number"}),
        ({"response_style": None}, {"response_style": "one of"}),
        ({"custom_instructions": "y" * 2001}, {"custom_instructions": "at most 2,000"}),
        ({"model": "not a model!"}, {"model": "model id"}),
    ],
)
async def test_bad_values_come_back_as_inline_errors(
    driver: SlackDriver, overrides: dict[str, str | None], errors: dict[str, str]
) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    response = await driver.submit_view(view, form(**overrides))
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == set(errors)
    for key, fragment in errors.items():
        assert fragment in body["errors"][key]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_unchanged_submission_saves_nothing(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    unchanged = form(
        bot_name="ROMASHKA Assistant",
        avatar_emoji=":robot_face:",
        formality="50",
        enthusiasm="50",
        technical_depth="50",
        empathy="50",
        response_style="conversational",
        custom_instructions=None,
        model=None,
    )
    await driver.submit_view(view, unchanged)
    assert "No changes" in (await driver.next_reply())["text"]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_save_after_someone_else_saved_applies_on_top_and_says_so(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    # someone else's saves while the form is open: one field the form leaves alone, one it changes
    await driver.reply_text("set model gpt-4o-mini")
    await driver.reply_text("set empathy 10")
    await driver.submit_view(view, form())
    text = (await driver.next_reply())["text"]
    assert "Saved *Support* v4" in text
    assert "*Support* changed to v3 while you edited: your change was applied on top of it" in text
    assert "Values of v3 you replaced:\n• empathy: `10` → `70`" in text
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    current = await repo.current_version(driver.pool, team_id=TEAM, profile_id=profile.id)
    # the other person's model is kept; the form's own changes are applied
    assert current.fields.model == "gpt-4o-mini"
    assert (current.fields.bot_name, current.fields.empathy, current.fields.formality) == (
        "Ava",
        70,
        80,
    )


async def test_form_left_alone_keeps_what_others_saved(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    await driver.reply_text("set formality 90")
    unchanged = form(
        bot_name="ROMASHKA Assistant",
        avatar_emoji=":robot_face:",
        formality="50",
        enthusiasm="50",
        technical_depth="50",
        empathy="50",
        response_style="conversational",
        custom_instructions=None,
        model=None,
    )
    await driver.submit_view(view, unchanged)
    text = (await driver.next_reply())["text"]
    assert "No changes: *Support* stays at v2" in text
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 2


async def test_submission_from_another_workspace_cannot_write(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    response = await driver.submit_view(view, form(), team="T0002")
    body = json.loads(response.body)
    assert "does not exist in this workspace" in body["errors"]["bot_name"]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_database_failure_keeps_the_form_open(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    await driver.pool.execute("ALTER TABLE profile_versions RENAME TO pv_broken")
    try:
        response = await driver.submit_view(view, form())
    finally:
        await driver.pool.execute("ALTER TABLE pv_broken RENAME TO profile_versions")
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert "Saving failed; nothing was changed" in body["errors"]["bot_name"]


async def test_expired_trigger_tells_the_person_to_retry(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    driver.slack.fail_next("views.open", error="expired_trigger_id")
    assert "took too long to open" in await driver.reply_text("config")


async def test_card_edit_button_opens_the_same_modal(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    await driver.click(ids.CARD_EDIT, str(profile.id))
    calls = await driver.slack.wait_calls("views.open")
    assert calls[-1].args["view"]["callback_id"] == ids.CONFIG_MODAL


async def test_confirmation_falls_back_to_ephemeral_without_response_url(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    meta = json.loads(view["private_metadata"])
    meta["r"] = None
    await driver.submit_view({**view, "private_metadata": json.dumps(meta)}, form())
    calls = await driver.slack.wait_calls("chat.postEphemeral")
    assert "Saved *Support* v2" in calls[-1].args["text"]
    assert calls[-1].args["user"] == "U0001"
