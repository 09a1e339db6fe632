"""`/bot` profile commands end to end: signed requests, the real AsyncApp, fake Slack, Postgres."""

from __future__ import annotations

import json

import pytest

from bot import ids
from storage import profiles as repo
from tests.slack_driver import OTHER_TEAM, TEAM, SlackDriver


async def version_count(driver: SlackDriver) -> int:
    count: int = await driver.pool.fetchval("SELECT count(*) FROM profile_versions")
    return count


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
async def test_help_lists_every_subcommand(driver: SlackDriver, text: str) -> None:
    reply = await driver.reply_text(text)
    subs: tuple[str, ...] = ("new", "profiles", "use", "default", "config", "set", "show")
    subs += ("history", "rollback")
    subs += ("test", "scenarios", "scenario new", "scenario run", "ab", "ab close", "leaderboard")
    for sub in subs:
        assert f"/bot {sub}" in reply


async def test_reply_is_ephemeral_and_ack_is_empty(driver: SlackDriver) -> None:
    response = await driver.command("help")
    assert response.status == 200 and response.body == ""
    reply = await driver.next_reply()
    assert reply["response_type"] == "ephemeral"


async def test_unknown_subcommand_says_so_with_usage(driver: SlackDriver) -> None:
    reply = await driver.reply_text("frobnicate 🌼 <!channel>")
    assert "I don't know `/bot frobnicate`" in reply
    assert "/bot new" in reply


async def test_new_creates_default_profile_and_first_is_default(driver: SlackDriver) -> None:
    reply = await driver.reply_text("new Support")
    assert "Created profile *Support* (v1)" in reply and "workspace default" in reply
    reply = await driver.reply_text("new Sales")
    assert "workspace default" not in reply
    version = await repo.current_version(
        driver.pool,
        team_id=TEAM,
        profile_id=(await repo.find_profile(driver.pool, team_id=TEAM, name="Support")).id,
    )
    f = version.fields
    assert (f.bot_name, f.avatar_emoji, f.response_style.value, f.custom_instructions) == (
        "ROMASHKA Assistant",
        ":robot_face:",
        "conversational",
        "",
    )
    assert (f.formality, f.enthusiasm, f.technical_depth, f.empathy) == (50, 50, 50, 50)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("new", "Usage: `/bot new <name>`"),
        ("new Two Words", "Profile names are one word"),
        ("new 🌼", "Profile names are one word"),
        ("new " + "x" * 41, "at most 40 characters"),
    ],
)
async def test_new_rejects_bad_names(driver: SlackDriver, text: str, expected: str) -> None:
    assert expected in await driver.reply_text(text)
    assert await version_count(driver) == 0


async def test_new_duplicate_name_is_refused(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "already exists" in await driver.reply_text("new support")
    assert await version_count(driver) == 1


async def test_profiles_list_marks_default_and_pin(driver: SlackDriver) -> None:
    assert "no bot profiles yet" in await driver.reply_text("profiles")
    await driver.reply_text("new Support")
    await driver.reply_text("new Sales")
    assert "now uses *Sales*" in await driver.reply_text("use Sales")
    await driver.command("profiles")
    reply = await driver.next_reply()
    text = json.dumps(reply["blocks"])
    assert "*Sales* v1 \\u00b7 _pinned here_" in text
    assert "*Support* v1 \\u00b7 _default_" in text


async def test_default_changes_workspace_default(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("new Sales")
    assert "now the workspace default" in await driver.reply_text("default sales")
    listed = {p.name: p.is_default for p in await repo.list_profiles(driver.pool, team_id=TEAM)}
    assert listed == {"Sales": True, "Support": False}
    assert "no profile named *Nope*" in await driver.reply_text("default Nope")


async def test_commands_before_any_profile_explain_how_to_start(driver: SlackDriver) -> None:
    for text in ("show", "history", "set formality 80", "rollback 1", "config"):
        assert "/bot new <name>" in await driver.reply_text(text)


async def test_set_saves_a_new_version_and_reports_old_to_new(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    reply = await driver.reply_text("set formality 80")
    assert "Saved *Support* v2" in reply and "formality: `50` → `80`" in reply
    reply = await driver.reply_text("set style CONCISE Support")
    assert "v3" in reply and "style: `conversational` → `concise`" in reply
    reply = await driver.reply_text("set name Ава 🌼 the helper")
    assert "name: `ROMASHKA Assistant` → `Ава 🌼 the helper`" in reply
    reply = await driver.reply_text("set avatar sparkles")
    assert "`:sparkles:`" in reply
    reply = await driver.reply_text("set instructions Always greet <@U1> & say thanks")
    assert "&lt;@U1&gt; &amp; say thanks" in reply  # escaped: no mention injection
    reply = await driver.reply_text("set technical_depth 90")
    assert "technical depth: `50` → `90`" in reply
    assert await version_count(driver) == 7


async def test_set_with_leading_profile_for_free_text(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("new Sales")
    reply = await driver.reply_text("set @Sales name Sally from Sales")
    assert "Saved *Sales* v2" in reply
    sales = await repo.find_profile(driver.pool, team_id=TEAM, name="Sales")
    current = await repo.current_version(driver.pool, team_id=TEAM, profile_id=sales.id)
    assert current.fields.bot_name == "Sally from Sales"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set", "Usage: `/bot set <field> <value> [profile]`"),
        ("set formality", "Usage: `/bot set formality <value> [profile]`"),
        ("set formality 101", "Formality must be from 0 to 100 (got 101)"),
        ("set empathy -1", "Empathy must be from 0 to 100 (got -1)"),
        ("set enthusiasm 7.5", "Enthusiasm must be a whole number"),
        ("set enthusiasm lots", "Enthusiasm must be a whole number"),
        ("set style chatty", "must be one of: concise, detailed, conversational"),
        ("set avatar :Not Valid:", "emoji shortcode like `:sparkles:`"),
        ("set name " + "n" * 81, "at most 80 characters (got 81)"),
        ("set instructions " + "i" * 2001, "at most 2,000 characters (got 2,001)"),
        ("set mood happy", "Unknown field `mood`"),
        ("set formality 80 Nope", "no profile named *Nope*"),
        ("set formality 80 Support extra", "Usage"),
        ("set model has spaces in it", "Usage"),
        ("set model gpt/4o!", "model id like"),
    ],
)
async def test_set_bad_input_changes_nothing(driver: SlackDriver, text: str, expected: str) -> None:
    await driver.reply_text("new Support")
    assert expected in await driver.reply_text(text)
    assert await version_count(driver) == 1


async def test_set_same_value_saves_nothing(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "Nothing changed" in await driver.reply_text("set formality 50")
    assert await version_count(driver) == 1


async def test_show_renders_card_with_bars_and_author(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    await driver.command("show Support")
    reply = await driver.next_reply()
    blocks = reply["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":robot_face: ROMASHKA Assistant", "emoji": True},
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[0] == "*Formality*\n`████████░░ 80`"
    assert fields[1] == "*Enthusiasm*\n`█████░░░░░ 50`"
    context = blocks[3]["elements"][0]["text"]
    assert "v2" in context and "saved by <@U0001>" in context and "workspace default" in context
    assert len(blocks) <= 50


async def test_history_pages_with_more_button_and_diffs(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    for level in range(1, 12):
        await driver.reply_text(f"set empathy {level}")
    await driver.command("history")
    page = await driver.next_reply()
    sections = [b for b in page["blocks"] if b["type"] == "section"]
    assert len(sections) == 10
    assert sections[0]["text"]["text"].startswith("*v12*")
    assert "empathy: `10` → `11`" in sections[0]["text"]["text"]
    button = page["blocks"][-1]["elements"][0]
    assert button["action_id"] == ids.HISTORY_MORE
    await driver.click(ids.HISTORY_MORE, button["value"])
    more = await driver.next_reply()
    texts = [b["text"]["text"] for b in more["blocks"] if b["type"] == "section"]
    assert [t.split("*")[1] for t in texts] == ["v2", "v1"]
    assert "_first version_" in texts[1]
    assert not any(b["type"] == "actions" for b in more["blocks"])


async def test_rollback_appends_a_copy_of_the_old_version(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    await driver.reply_text("set style detailed")
    reply = await driver.reply_text("rollback v1")
    assert "Rolled *Support* back to v1, saved as v4" in reply
    assert "formality: `80` → `50`" in reply
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    v4 = await repo.current_version(driver.pool, team_id=TEAM, profile_id=profile.id)
    v1 = await repo.get_version(driver.pool, team_id=TEAM, profile_id=profile.id, version=1)
    assert v4.fields == v1.fields and v4.note == "rollback to v1"
    assert await version_count(driver) == 4  # nothing overwritten


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rollback", "Usage: `/bot rollback <version> [profile]`"),
        ("rollback latest", "`latest` is not a version number"),
        ("rollback 9", "*Support* has no version 9"),
        ("rollback 1 Nope", "no profile named *Nope*"),
        ("rollback 1", "identical to the current v1"),
    ],
)
async def test_rollback_bad_input(driver: SlackDriver, text: str, expected: str) -> None:
    await driver.reply_text("new Support")
    assert expected in await driver.reply_text(text)
    assert await version_count(driver) == 1


async def test_other_workspace_cannot_see_or_touch_profiles(driver: SlackDriver) -> None:
    await driver.reply_text("new Secret")
    secret = await repo.find_profile(driver.pool, team_id=TEAM, name="Secret")
    assert "no bot profiles yet" in await driver.reply_text("profiles", team=OTHER_TEAM)
    assert "no profile named *Secret*" in await driver.reply_text("show Secret", team=OTHER_TEAM)
    assert "no profile named *Secret*" in await driver.reply_text(
        "set formality 1 Secret", team=OTHER_TEAM
    )
    # guessing the id through a button from the other workspace
    await driver.click(ids.CARD_HISTORY, str(secret.id), team=OTHER_TEAM)
    assert "does not exist in this workspace" in (await driver.next_reply())["text"]
    await driver.click(ids.HISTORY_MORE, json.dumps({"p": secret.id, "before": 5}), team=OTHER_TEAM)
    assert "does not exist in this workspace" in (await driver.next_reply())["text"]
    assert await version_count(driver) == 1


async def test_bad_signature_is_rejected_and_writes_nothing(driver: SlackDriver) -> None:
    response = await driver.command("new Support", secret="not-the-secret")
    assert response.status == 401
    assert await version_count(driver) == 0
    assert driver.slack.responses == []


async def test_storage_failure_gives_a_generic_message_without_details(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    await driver.pool.execute("ALTER TABLE profile_versions RENAME TO pv_broken")
    try:
        reply = await driver.reply_text("set formality 80")
    finally:
        await driver.pool.execute("ALTER TABLE pv_broken RENAME TO profile_versions")
    assert "something went wrong on our side and nothing was changed" in reply
    assert "pv_broken" not in reply and "relation" not in reply
