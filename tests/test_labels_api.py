"""Labels, promotion and the read API end to end: signed `/bot` commands through the real Bolt
app, then HTTP requests to the same process's server, PostgreSQL underneath."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from bot import ids
from bot.release.api_tokens import token_hash
from bot.startup.deps import Deps
from bot.startup.log_redaction import REDACTED, Redactor
from bot.startup.server import http_app
from storage import labels as labels_repo
from storage import profiles as profiles_repo
from storage.errors import LabelMovedMeanwhile
from tests.slack_driver import OTHER_TEAM, TEAM, SlackDriver
from tests.test_bot_test import settled

MEMBER = "U0777"  # a member of TEAM who is no editor
TOKEN = re.compile(r"rmk_[A-Za-z0-9_-]{43}")


@dataclass
class Api:
    base: str
    session: aiohttp.ClientSession

    async def get(
        self, path: str, *, token: str | None = None, etag: str | None = None
    ) -> tuple[int, dict[str, Any] | None, CIMultiDictProxy[str]]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if etag is not None:
            headers["If-None-Match"] = etag
        async with self.session.get(self.base + path, headers=headers) as response:
            body = await response.json() if response.status != 304 else None
            return response.status, body, response.headers


async def serve(driver: SlackDriver, deps: Deps) -> AsyncIterator[Api]:
    runner = web.AppRunner(http_app(driver.app, deps), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(f"http://127.0.0.1:{port}", session)
    finally:
        await runner.cleanup()


@pytest.fixture
async def api(driver: SlackDriver) -> AsyncIterator[Api]:
    async for served in serve(driver, driver.deps):
        yield served


async def new_token(driver: SlackDriver, name: str = "live-bot", **kwargs: Any) -> str:
    reply = await driver.reply_text(f"api-token create {name}", **kwargs)
    found = TOKEN.search(reply)
    assert found is not None, reply
    return found.group(0)


async def support_with_versions(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80 Support")  # v2
    await driver.reply_text("set empathy 10 Support")  # v3


async def moves(pool: asyncpg.Pool) -> list[tuple[str, int | None, int]]:
    rows = await pool.fetch("SELECT label, from_version, to_version FROM label_moves ORDER BY id")
    return [(r["label"], r["from_version"], r["to_version"]) for r in rows]


PRODUCTION = "/v1/profiles/Support?label=production"


async def test_promote_read_poll_roll_back_and_revoke(driver: SlackDriver, api: Api) -> None:
    await support_with_versions(driver)
    reply = await driver.reply_text("promote Support@2 production")
    assert "*Support* v2 is now `production` (was not set)" in reply
    token = await new_token(driver)

    status, first, headers = await api.get(PRODUCTION, token=token)
    assert status == 200 and first is not None
    assert (first["profile"], first["version"], first["label"]) == ("Support", 2, "production")
    assert first["traits"]["formality"] == 80 and first["traits"]["empathy"] == 50
    assert {"temperature", "max_tokens", "presence_penalty"} == set(first["sampling"])
    assert [k["id"] for k in first["knowledge"]][:2] == ["C", "I"]  # the example knowledge
    etag_v2 = headers["ETag"]
    assert etag_v2.startswith('"') and not etag_v2.startswith("W/")

    # polling with the ETag costs nothing until the label moves
    status, body, headers = await api.get(PRODUCTION, token=token, etag=etag_v2)
    assert (status, body, headers["ETag"]) == (304, None, etag_v2)

    reply = await driver.reply_text("promote Support@3 production")
    assert "v3 is now `production` (was v2)" in reply
    assert "`/bot promote Support@2 production`" in reply  # how to roll back
    status, third, headers = await api.get(PRODUCTION, token=token, etag=etag_v2)
    assert status == 200 and third is not None and third["version"] == 3
    etag_v3 = headers["ETag"]
    assert etag_v3 != etag_v2 and third["traits"]["empathy"] == 10

    # rolling back is promoting the earlier version: the same document, the same ETag
    assert "(was v3)" in await driver.reply_text("promote Support@2 production")
    status, again, headers = await api.get(PRODUCTION, token=token, etag=etag_v3)
    assert (status, again, headers["ETag"]) == (200, first, etag_v2)
    assert await moves(driver.pool) == [
        ("production", None, 2),
        ("production", 2, 3),
        ("production", 3, 2),
    ]
    # nothing was overwritten: three versions still, and history shows the moves
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 3
    await driver.command("history Support")
    history = await driver.next_reply()
    moved = history["blocks"][1]["text"]["text"]
    assert moved.startswith("*Label moves*")
    assert moved.count("`production` →") == 3 and "*v2* (was v3)" in moved

    await driver.command("labels Support")
    shown = (await driver.next_reply())["blocks"][1]["text"]["text"]
    assert "`production` → *v2*" in shown and "`staging`: not set" in shown
    # a version read by number has no label
    status, by_number, _ = await api.get("/v1/profiles/support?version=3", token=token)
    assert status == 200 and by_number is not None
    assert (by_number["version"], by_number["label"]) == (3, None)

    reply = await driver.reply_text("api-token revoke live-bot")
    assert "revoked" in reply
    status, body, headers = await api.get(PRODUCTION, token=token)
    assert status == 401 and body is not None and body["error"]["code"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_only_a_hash_is_stored_and_the_token_is_never_logged(
    driver: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    await driver.reply_text("new Support")
    token = await new_token(driver)
    stored = await driver.pool.fetchval("SELECT token_hash FROM api_tokens")
    assert bytes(stored) == token_hash(token) and token.encode() not in bytes(stored)
    listed = await driver.reply_text("api-token list")
    assert listed == "API tokens"
    assert Redactor().redact(f"sent Authorization-less {token} here") == (
        f"sent Authorization-less {REDACTED} here"
    )
    assert token not in caplog.text


async def test_another_workspace_gets_404_and_bad_tokens_401(driver: SlackDriver, api: Api) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 production")
    ours = await new_token(driver)
    await driver.reply_text("new Sales", team=OTHER_TEAM)
    theirs = await new_token(driver, "their-bot", team=OTHER_TEAM)

    status, body, _ = await api.get(PRODUCTION, token=theirs)
    assert status == 404 and body == {
        "error": {"code": "profile_not_found", "message": "No profile named 'Support'."}
    }
    assert (await api.get(PRODUCTION, token=ours))[0] == 200

    unknown = "rmk_" + "A" * 43
    for token in (None, "", "not-a-token", ours + "x", unknown):
        status, body, _ = await api.get(PRODUCTION, token=token)
        assert status == 401 and body is not None and body["error"]["code"] == "unauthorized"
    async with api.session.get(
        api.base + PRODUCTION, headers={"Authorization": f"Basic {ours}"}
    ) as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "bad_request"),
        ("?label=production&version=1", 400, "bad_request"),
        ("?version=abc", 400, "bad_request"),
        ("?version=0", 400, "bad_request"),
        ("?label=Pro%20duction", 400, "bad_request"),
        ("?label=staging", 404, "label_not_found"),
        ("?version=9", 404, "version_not_found"),
    ],
)
async def test_api_errors_are_json(
    driver: SlackDriver, api: Api, query: str, status: int, code: str
) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 production")
    token = await new_token(driver)
    got, body, _ = await api.get("/v1/profiles/Support" + query, token=token)
    assert (got, body is not None and body["error"]["code"]) == (status, code)


async def test_too_many_requests_get_429(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 production")
    token = await new_token(driver)
    limited = Deps(
        settings=driver.deps.settings.model_copy(update={"api_rate_limit_per_minute": 3}),
        pool=driver.pool,
    )
    async for api in serve(driver, limited):
        statuses = [(await api.get(PRODUCTION, token=token))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        status, body, headers = await api.get(PRODUCTION, token=token)
        assert status == 429 and body is not None and body["error"]["code"] == "rate_limited"
        assert int(headers["Retry-After"]) >= 1
        # another token has its own allowance
        other = await new_token(driver, "second")
        assert (await api.get(PRODUCTION, token=other))[0] == 200
        # and guessing tokens is limited per address
        guesses = [(await api.get(PRODUCTION, token="rmk_" + "A" * 43))[0] for _ in range(4)]
        assert guesses == [401, 401, 401, 429]
        assert (await api.get(PRODUCTION, token=other))[0] == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("promote Support@1 my label", "Label names are one word"),
        ("promote Support@1 Pro!", "Label names are one word"),
        ("promote Support@9 production", "*Support* has no version 9"),
        ("promote Nope@1 production", "no profile named *Nope*"),
        ("promote Support@staging production", "has no label `staging` yet"),
        ("promote Support production", "Usage: `/bot promote"),
        ("promote", "Usage: `/bot promote"),
    ],
)
async def test_bad_promotions_change_nothing(driver: SlackDriver, text: str, expected: str) -> None:
    await driver.reply_text("new Support")
    assert expected in await driver.reply_text(text)
    assert await moves(driver.pool) == []


async def test_only_editors_promote_and_create_tokens(driver: SlackDriver) -> None:
    driver.slack.users[MEMBER] = {"id": MEMBER, "team_id": TEAM, "is_admin": False}
    await driver.reply_text("new Support")
    editing = ("promote Support@1 production", "api-token create mine", "gate production ab on")
    for text in (*editing, "promotions here", "api-token revoke mine"):
        assert (await driver.reply_text(text, user=MEMBER)).startswith("Only editors")
    assert await moves(driver.pool) == []
    assert await driver.pool.fetchval("SELECT count(*) FROM api_tokens") == 0
    # reading is for everyone
    assert await driver.reply_text("labels", user=MEMBER) == "Labels of Support"
    assert "has no gates" in await driver.reply_text("gate production", user=MEMBER)
    assert "notices are off" in await driver.reply_text("promotions", user=MEMBER)


async def test_promoting_the_same_version_again_says_so(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 staging")
    assert "already points at v1; nothing changed" in await driver.reply_text(
        "promote Support@1 staging"
    )
    # promoting what a label points at to another label
    assert "v1 is now `production`" in await driver.reply_text("promote Support@staging production")
    assert await moves(driver.pool) == [("staging", None, 1), ("production", None, 1)]


async def test_a_stale_compare_and_set_loses(driver: SlackDriver) -> None:
    await support_with_versions(driver)
    support = await profiles_repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    move = await labels_repo.move_label(
        driver.pool,
        team_id=TEAM,
        profile_id=support.id,
        label="production",
        expected=None,
        to_version=2,
        user_id="U1",
    )
    assert move.from_version is None
    # a second editor read "not set" too, before the first one's move
    with pytest.raises(LabelMovedMeanwhile) as lost:
        await labels_repo.move_label(
            driver.pool,
            team_id=TEAM,
            profile_id=support.id,
            label="production",
            expected=None,
            to_version=3,
            user_id="U2",
        )
    assert lost.value.found == 2
    assert await moves(driver.pool) == [("production", None, 2)]


async def test_two_editors_promoting_at_once_never_both_silently_win(
    driver: SlackDriver,
) -> None:
    await support_with_versions(driver)
    texts = ["promote Support@2 production", "promote Support@3 production"]
    for text in texts:
        await driver.command(text)
    replies = [await driver.reply_for(f"cmd{n}") for n in (4, 5)]
    recorded = await moves(driver.pool)
    # either one lost and was told, or they landed one after the other, the second saying so
    if any("Someone else moved" in r for r in replies):
        assert len(recorded) == 1
    else:
        assert [m[1] for m in recorded] == [None, recorded[0][2]]
    label = await driver.pool.fetchval("SELECT version FROM profile_labels")
    assert label == recorded[-1][2]


async def test_api_prompt_is_what_bot_test_sent(live: SlackDriver, model: Any) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set @Support instructions Always greet by name & sign off <ROMASHKA>")
    await live.reply_text("set style detailed Support")
    await live.reply_text("promote Support@3 production")
    await live.command("test How do I get started?")
    await settled(live.pool)
    answers = [r for r in model.requests if not model.is_judge_request(r)]
    [system] = [m["content"] for m in answers[0]["messages"] if m["role"] == "system"]
    token = await new_token(live)
    async for api in serve(live, live.deps):
        status, body, _ = await api.get(PRODUCTION, token=token)
    assert status == 200 and body is not None
    assert body["system_prompt"] == system
    assert body["version"] == 3 and body["sampling"]["max_tokens"] == 500
    assert body["model"] == answers[0]["model"] == "fake-model"


async def test_openapi_document_is_served(api: Api) -> None:
    async with api.session.get(api.base + "/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.")
    assert "/v1/profiles/{name}" in document["paths"]


async def test_concurrent_gathered_requests(driver: SlackDriver, api: Api) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 production")
    token = await new_token(driver)
    got = await asyncio.gather(*(api.get(PRODUCTION, token=token) for _ in range(5)))
    assert {g[2]["ETag"] for g in got} == {got[0][2]["ETag"]}


async def test_of_many_moves_from_the_same_place_exactly_one_lands(driver: SlackDriver) -> None:
    await support_with_versions(driver)
    support = await profiles_repo.find_profile(driver.pool, team_id=TEAM, name="Support")

    async def attempt(expected: int | None, to: int) -> bool:
        try:
            await labels_repo.move_label(
                driver.pool,
                team_id=TEAM,
                profile_id=support.id,
                label="production",
                expected=expected,
                to_version=to,
                user_id=f"U{to}",
            )
        except LabelMovedMeanwhile:
            return False
        return True

    # the first setting of a label (an insert) and a later move (an update), each raced 4 ways
    assert sum(await asyncio.gather(*(attempt(None, v) for v in (1, 2, 3, 1)))) == 1
    now = await driver.pool.fetchval("SELECT version FROM profile_labels")
    others = [v for v in (1, 2, 3) if v != now]
    assert sum(await asyncio.gather(*(attempt(now, v) for v in others * 2))) == 1
    recorded = await moves(driver.pool)
    assert len(recorded) == 2 and recorded[1][1] == now


async def test_purge_deletes_labels_moves_tokens_and_gates(driver: SlackDriver, api: Api) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("promote Support@1 production")
    await driver.reply_text("gate production ab on")
    await driver.reply_text("promotions here")
    token = await new_token(driver)
    await driver.command("purge")
    view = (await driver.slack.wait_calls("views.open"))[-1].args["view"]
    value = {"type": "plain_text_input", "value": "DELETE"}
    await driver.submit_view(
        view, {ids.PURGE_CONFIRM: {ids.PURGE_CONFIRM + ids.INPUT_SUFFIX: value}}
    )
    await driver.slack.wait_for(
        lambda s: any("data was deleted" in str(c.args.get("text")) for c in s.responses)
    )
    tables = ("profile_labels", "label_moves", "api_tokens", "label_gates", "promotion_channels")
    for table in tables:
        assert await driver.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert (await api.get(PRODUCTION, token=token))[0] == 401
