"""Acks stay inside Slack's three seconds whatever Slack does: a form's role check waits on
`users.info`, which sits behind the SDK's 429 handler for as long as Retry-After says. Edit
buttons refuse non-editors before a form opens."""

from __future__ import annotations

import json
import time
from typing import Any

from bot import ids
from storage import profiles as repo
from tests.slack_driver import TEAM, SlackDriver
from tests.test_config_modal import form as config_form
from tests.test_home import home_click
from tests.test_knowledge import values as knowledge_values
from tests.test_purge import confirm as purge_confirm
from tests.test_scenarios import form as scenario_form

MEMBER = "U0MEMBER"
# an admin who is not on the editors list (the profile's creator is): asked of Slack each time
ADMIN = "U0ADMIN"
ROLE_CHECK = "Couldn't check your role with Slack just now"


def users_info_rate_limited(driver: SlackDriver, *, retry_after_s: int = 30) -> None:
    """Slack answers the next users.info with 429 and a long Retry-After: the SDK's handler
    would wait that long before asking again."""
    driver.slack.fail_next(
        "users.info", error="ratelimited", status=429, headers={"Retry-After": str(retry_after_s)}
    )


async def with_profile(driver: SlackDriver) -> None:
    driver.slack.users[ADMIN] = {"id": ADMIN, "team_id": TEAM, "is_admin": True}
    await driver.reply_text("new Support")


async def opened(driver: SlackDriver, text: str) -> dict[str, Any]:
    before = len(driver.slack.of("views.open"))
    await driver.command(text, user=ADMIN)
    view: dict[str, Any] = (await driver.slack.wait_calls("views.open", before + 1))[-1].args[
        "view"
    ]
    return view


async def timed_submit(
    driver: SlackDriver, view: dict[str, Any], values: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    response = await driver.submit_view(view, values, user=ADMIN)
    elapsed = time.monotonic() - started
    assert response.status == 200
    return elapsed, json.loads(response.body) if response.body else {}


async def test_config_form_acks_in_time_while_users_info_is_rate_limited(
    driver: SlackDriver,
) -> None:
    await with_profile(driver)
    view = await opened(driver, "config")
    users_info_rate_limited(driver)
    elapsed, body = await timed_submit(driver, view, config_form())
    assert elapsed < 3.0
    assert body["response_action"] == "errors"
    assert ROLE_CHECK in body["errors"][ids.FIELD_BOT_NAME]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_knowledge_form_acks_in_time_while_users_info_is_rate_limited(
    driver: SlackDriver,
) -> None:
    await with_profile(driver)
    view = await opened(driver, "knowledge")
    users_info_rate_limited(driver)
    elapsed, body = await timed_submit(driver, view, knowledge_values(company="Acme"))
    assert elapsed < 3.0
    assert ROLE_CHECK in body["errors"][ids.KNOWLEDGE_COMPANY]
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_scenario_and_purge_forms_ack_in_time_while_users_info_is_rate_limited(
    driver: SlackDriver,
) -> None:
    await with_profile(driver)
    scenario_view = await opened(driver, "scenario edit Billing questions")
    users_info_rate_limited(driver)
    elapsed, body = await timed_submit(
        driver, scenario_view, scenario_form("Billing", "Why was I charged twice?")
    )
    assert elapsed < 3.0 and ROLE_CHECK in body["errors"][ids.SCENARIO_NAME]

    purge_view = await opened(driver, "purge")
    users_info_rate_limited(driver)
    elapsed, body = await timed_submit(driver, purge_view, purge_confirm("DELETE"))
    assert elapsed < 3.0 and ROLE_CHECK in body["errors"][ids.PURGE_CONFIRM]
    assert await driver.pool.fetchval("SELECT count(*) FROM profiles") == 1


async def test_the_cards_edit_button_refuses_members_before_opening_the_form(
    driver: SlackDriver,
) -> None:
    driver.slack.users[MEMBER] = {"id": MEMBER, "is_admin": False, "is_owner": False}
    await driver.reply_text("new Support")
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    await driver.click(ids.CARD_EDIT, str(profile.id), user=MEMBER)
    assert (await driver.next_reply())["text"].startswith("Only editors can edit profiles")
    assert driver.slack.of("views.open") == []


async def test_the_home_tabs_edit_button_refuses_members_by_direct_message(
    driver: SlackDriver,
) -> None:
    driver.slack.users[MEMBER] = {"id": MEMBER, "is_admin": False, "is_owner": False}
    await driver.reply_text("new Support")
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    click = home_click(ids.CARD_EDIT, str(profile.id), 1)
    click["user"] = {"id": MEMBER, "team_id": TEAM}
    await driver.interact(click)
    [dm] = await driver.slack.wait_calls("chat.postMessage")
    assert dm.args["channel"] == MEMBER and dm.args["text"].startswith("Only editors can")
    assert driver.slack.of("views.open") == []


async def test_the_edit_button_answers_in_time_while_users_info_is_rate_limited(
    driver: SlackDriver,
) -> None:
    await with_profile(driver)
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    users_info_rate_limited(driver)
    started = time.monotonic()
    await driver.click(ids.CARD_EDIT, str(profile.id), user=ADMIN)
    reply = await driver.next_reply()
    # well before the click's trigger_id expires, and without a form that could not be saved
    assert time.monotonic() - started < 3.0
    assert reply["text"].startswith(ROLE_CHECK)
    assert driver.slack.of("views.open") == []
