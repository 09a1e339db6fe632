"""Every workspace gets a first editor without needing a Slack admin: with one workspace, whoever
creates its first profile; with OAuth, whoever installs the app. Or everyone, by setting."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserError
from bot.slack.roles import FIRST_EDITOR, require_editor_or_first
from bot.startup.deps import Deps
from bot.startup.settings import Settings
from storage import editors as repo
from storage.installations import PostgresInstallationStore
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, TEAM, SlackDriver

LEAD = "U0LEAD"
MEMBER = "U0MEMBER"
OTHER = "U0OTHER"


@pytest.fixture
def members(driver: SlackDriver) -> SlackDriver:
    for user in (LEAD, MEMBER, OTHER):
        driver.slack.users[user] = {"id": user, "is_admin": False, "is_owner": False}
    return driver


async def test_the_first_profile_makes_a_member_the_first_editor(members: SlackDriver) -> None:
    reply = await members.reply_text("new Support", user=LEAD)
    assert "Created profile *Support*" in reply
    assert FIRST_EDITOR in reply and "/bot editors add @person" in reply
    assert "Saved *Support* v2" in await members.reply_text("set formality 80", user=LEAD)
    # nobody else inherits the role: the workspace has an editor now
    refused = await members.reply_text("new Sales", user=MEMBER)
    assert refused.startswith("Only editors can create profiles")
    listed = await members.reply_text("editors list", user=MEMBER)
    assert f"<@{LEAD}> (first editor)" in listed
    # and the first editor adds the others
    assert "is now an editor" in await members.reply_text(f"editors add <@{MEMBER}>", user=LEAD)
    assert "Created profile *Sales*" in await members.reply_text("new Sales", user=MEMBER)
    assert FIRST_EDITOR not in members.slack.responses[-1].args["text"]


async def test_a_first_editor_is_told_even_when_the_name_is_refused(members: SlackDriver) -> None:
    reply = await members.reply_text("new two words", user=LEAD)
    assert "Profile names are one word" in reply and FIRST_EDITOR in reply
    assert await repo.is_editor(members.pool, team_id=TEAM, user_id=LEAD)


async def test_two_people_at_once_make_one_first_editor(members: SlackDriver) -> None:
    await asyncio.gather(
        members.command("new Support", user=LEAD), members.command("new Sales", user=MEMBER)
    )
    texts = [str((await members.next_reply())["text"]) for _ in range(2)]
    assert sum("Created profile" in t for t in texts) == 1, texts
    assert sum(t.startswith("Only editors can create profiles") for t in texts) == 1, texts
    rows = await members.pool.fetch("SELECT user_id FROM editors WHERE team_id = $1", TEAM)
    assert len(rows) == 1


async def test_the_database_decides_between_many_claims(pool: asyncpg.Pool) -> None:
    users = [f"U{i:04d}" for i in range(12)]
    won = await asyncio.gather(*(repo.claim_first(pool, team_id=TEAM, user_id=u) for u in users))
    assert sum(won) == 1
    assert [u for u, w in zip(users, won, strict=True) if w] == [
        r["user_id"] for r in await pool.fetch("SELECT user_id FROM editors")
    ]


async def test_an_admin_creating_the_first_profile_is_listed_too(members: SlackDriver) -> None:
    reply = await members.reply_text("new Support")  # U0001, an admin
    assert FIRST_EDITOR in reply
    assert (await members.reply_text("new Sales", user=MEMBER)).startswith("Only editors")


async def test_profiles_made_before_editors_existed_open_no_door(members: SlackDriver) -> None:
    # a workspace whose admin created profiles before first editors were recorded
    await members.reply_text("new Support")
    await members.pool.execute("DELETE FROM editors")
    assert (await members.reply_text("new Sales", user=MEMBER)).startswith("Only editors")
    assert not await repo.is_editor(members.pool, team_id=TEAM, user_id=MEMBER)


async def test_everyone_can_edit_when_the_team_wants_it(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack
) -> None:
    open_settings = settings.model_copy(update={"everyone_can_edit": True})
    driver = SlackDriver.build(settings=open_settings, pool=pool, slack=slack)
    slack.users[MEMBER] = {"id": MEMBER, "is_admin": False}
    created = await driver.reply_text("new Support", user=MEMBER)
    assert "Created profile" in created and FIRST_EDITOR not in created
    slack.users[OTHER] = {"id": OTHER, "is_admin": False}
    assert "Saved *Support* v2" in await driver.reply_text("set empathy 90", user=OTHER)
    assert "everyone in this workspace" in await driver.reply_text("editors list", user=OTHER)
    assert slack.of("users.info") == []  # nobody had to be looked up


def oauth_settings(settings: Settings) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id="111.222",
        slack_client_secret="client-SECRET",  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=settings.slack_api_url,
        database_url=settings.database_url,
    )


async def test_the_installer_is_an_editor_with_oauth(pool: asyncpg.Pool) -> None:
    store = PostgresInstallationStore(pool)
    await store.async_save(
        Installation(
            app_id="A1",
            team_id="T0NEW",
            user_id="U0INSTALLER",
            bot_token="xoxb-new",
            bot_id="B1",
            bot_user_id="UB1",
        )
    )
    assert await repo.is_editor(pool, team_id="T0NEW", user_id="U0INSTALLER")
    assert not await repo.is_editor(pool, team_id=TEAM, user_id="U0INSTALLER")
    # a reinstall after an uninstall cancels the pending deletion of the workspace's data
    await pool.execute("UPDATE workspaces SET uninstalled_at = now() WHERE team_id = 'T0NEW'")
    await store.async_save(
        Installation(app_id="A1", team_id="T0NEW", user_id="U0SECOND", bot_token="xoxb-2")
    )
    assert (
        await pool.fetchval("SELECT uninstalled_at FROM workspaces WHERE team_id = 'T0NEW'") is None
    )
    assert await repo.is_editor(pool, team_id="T0NEW", user_id="U0SECOND")


async def test_with_oauth_creating_a_profile_makes_nobody_an_editor(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack
) -> None:
    # many workspaces: the installer is the first editor, so a member's /bot new grants nothing
    slack.users[MEMBER] = {"id": MEMBER, "is_admin": False}
    deps = Deps(settings=oauth_settings(settings), pool=pool)
    client = AsyncWebClient(token="xoxb-x", base_url=slack.api_url)
    with pytest.raises(UserError, match="Only editors can create profiles"):
        await require_editor_or_first(
            deps, client, team_id=TEAM, user_id=MEMBER, doing="create profiles"
        )
    assert not await repo.is_editor(pool, team_id=TEAM, user_id=MEMBER)
