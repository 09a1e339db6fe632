"""Slack Connect: another organisation's admin, met in a shared channel, is no admin here."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.roles import counts_as_admin
from commands.purge import ADMINS_ONLY
from tests.slack_driver import TEAM, SlackDriver

EXTERNAL_ADMIN = "U0EXTADMIN"


@pytest.mark.parametrize(
    ("user", "team_id", "enterprise_id", "counts"),
    [
        ({"team_id": "T1", "is_admin": True}, "T1", None, True),
        ({"team_id": "T1", "is_owner": True}, "T1", None, True),
        ({"team_id": "T1", "is_primary_owner": True}, "T1", None, True),
        ({"team_id": "T1", "is_admin": False}, "T1", None, False),
        ({"team_id": "T9", "is_admin": True}, "T1", None, False),  # another organisation
        ({"is_admin": True}, "T1", None, False),  # Slack did not say where the user belongs
        ({"team_id": "T1", "is_admin": True, "is_stranger": True}, "T1", None, False),
        # Enterprise Grid: a user of another workspace of the same enterprise
        (
            {"team_id": "T2", "is_admin": True, "enterprise_user": {"enterprise_id": "E1"}},
            "T1",
            "E1",
            True,
        ),
        (
            {"team_id": "T2", "is_admin": True, "enterprise_user": {"enterprise_id": "E2"}},
            "T1",
            "E1",
            False,
        ),
        # an org-wide install, whose requests carry the enterprise id as the team
        (
            {"team_id": "T2", "is_owner": True, "enterprise_user": {"enterprise_id": "E1"}},
            "E1",
            None,
            True,
        ),
        ({"team_id": "", "is_admin": True}, "", None, False),
    ],
)
def test_counts_as_admin(
    user: dict[str, Any], team_id: str, enterprise_id: str | None, counts: bool
) -> None:
    assert counts_as_admin(user, team_id=team_id, enterprise_id=enterprise_id) is counts


@pytest.fixture
async def shared_channel(driver: SlackDriver) -> SlackDriver:
    driver.slack.users[EXTERNAL_ADMIN] = {
        "id": EXTERNAL_ADMIN,
        "team_id": "T0OTHERORG",
        "is_admin": True,
        "is_owner": True,
    }
    await driver.reply_text("new Support")
    return driver


async def test_an_external_admin_cannot_edit(shared_channel: SlackDriver) -> None:
    reply = await shared_channel.reply_text("set formality 5", user=EXTERNAL_ADMIN)
    assert reply.startswith("Only editors can ")
    count = await shared_channel.pool.fetchval(
        "SELECT count(*) FROM profile_versions WHERE team_id = $1", TEAM
    )
    assert count == 1


async def test_an_external_admin_cannot_purge(shared_channel: SlackDriver) -> None:
    reply = await shared_channel.reply_text("purge", user=EXTERNAL_ADMIN)
    assert reply == ADMINS_ONLY
    assert shared_channel.slack.of("views.open") == []


async def test_an_own_admin_still_can(shared_channel: SlackDriver) -> None:
    assert "Saved *Support* v2" in await shared_channel.reply_text("set formality 5")
