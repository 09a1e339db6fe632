"""Two app processes on one database, fed interleaved requests for the same thread and the same
A/B test: everything that must be counted once is decided by Postgres, not by process memory."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg

from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, signed_headers
from tests.test_cli import CLEAN_ENV, free_port, start_app, stop_app


async def post(port: int, body: str, content_type: str) -> int:
    headers = {k: v[0] for k, v in signed_headers(body, content_type=content_type).items()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        return r.status


async def command(port: int, slack: FakeSlack, text: str, n: int) -> int:
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C1",
            "user_id": "U0001",
            "command": "/bot",
            "text": text,
            "response_url": slack.response_url(f"p{n}"),
            "trigger_id": f"t{n}",
        }
    )
    return await post(port, body, "application/x-www-form-urlencoded")


async def event(port: int, payload: dict[str, Any], event_id: str) -> int:
    body = json.dumps(
        {
            "team_id": "T0001",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": payload,
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT0001", "is_bot": True}],
        }
    )
    return await post(port, body, "application/json")


async def click(port: int, slack: FakeSlack, action_id: str, value: str, user: str) -> int:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user, "team_id": "T0001"},
        "api_app_id": "A1",
        "trigger_id": "t",
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1"},
        "message": {"ts": "1.0", "text": ""},
        "response_url": slack.response_url(f"click-{user}"),
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}],
    }
    return await post(
        port, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )


async def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_two_processes_share_one_truth(
    tmp_path: Path, slack: FakeSlack, model: FakeOpenAI, db_dsn: str
) -> None:
    ports = [free_port(), free_port()]
    base = {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-two",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_dsn,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "sk-two",
    }
    procs = await asyncio.gather(*(start_app({**base, "PORT": str(p)}, p, tmp_path) for p in ports))
    con = await asyncpg.connect(db_dsn)
    try:
        one, two = ports
        assert await command(one, slack, "new Support", 1) == 200
        await until(lambda: con.fetchval("SELECT count(*) FROM profiles"))
        assert await command(two, slack, "set formality 90", 2) == 200
        await until(lambda: con.fetchval("SELECT count(*) = 2 FROM profile_versions"))

        # a test thread, then one follow-up delivered to both processes at once (a retry)
        assert await command(one, slack, "test I cannot log in", 3) == 200
        first = await until(
            lambda: con.fetchrow(
                "SELECT * FROM test_results WHERE analysis IS NOT NULL "
                "OR analysis_error IS NOT NULL"
            )
        )
        reply = {
            "type": "message",
            "user": "U0002",
            "text": "still broken",
            "ts": "1800000000.1",
            "thread_ts": first["thread_ts"],
            "channel": "C1",
            "channel_type": "channel",
        }
        statuses = await asyncio.gather(
            event(one, reply, "EvDup"),
            event(two, reply, "EvDup"),
            event(two, {**reply, "type": "app_mention"}, "EvMention"),
        )
        assert list(statuses) == [200, 200, 200]
        await until(
            lambda: con.fetchval("SELECT count(*) = 2 FROM test_results WHERE analysis IS NOT NULL")
        )
        await asyncio.sleep(0.5)
        kinds = [r["kind"] for r in await con.fetch("SELECT kind FROM test_results ORDER BY id")]
        assert kinds == ["test", "followup"]

        # an A/B test started on one process, voted on through both, closed on the other
        assert await command(two, slack, 'ab Support@1 Support@2 "Where is my order?"', 4) == 200
        await until(lambda: con.fetchval("SELECT status = 'open' FROM ab_tests"))
        message_id = await con.fetchval("SELECT id FROM ab_messages")
        value = json.dumps({"m": message_id, "c": "1"})
        users = [f"U{i:03d}" for i in range(10)]
        clicks = [
            click(ports[i % 2], slack, "ab_vote_1", value, u) for i, u in enumerate(users)
        ] + [click(ports[(i + 1) % 2], slack, "ab_vote_1", value, u) for i, u in enumerate(users)]
        assert set(await asyncio.gather(*clicks)) == {200}
        await until(lambda: con.fetchval("SELECT count(*) = 10 FROM ab_votes"))
        ab_id = await con.fetchval("SELECT id FROM ab_tests")
        assert await command(one, slack, f"ab close {ab_id}", 5) == 200
        await until(lambda: con.fetchval("SELECT verdict IS NOT NULL FROM ab_tests"))
        assert (
            await click(two, slack, "ab_vote_2", json.dumps({"m": message_id, "c": "2"}), "U999")
            == 200
        )
        closed = await until(lambda: _reply_for(slack, "click-U999"))
        assert "Voting has closed" in closed
        assert await con.fetchval("SELECT count(*) FROM ab_votes") == 10
        verdict = json.loads(await con.fetchval("SELECT verdict FROM ab_tests"))
        decisive = verdict["per_person"]["a_wins"] + verdict["per_person"]["b_wins"]
        assert decisive == 10
    finally:
        await con.close()
        for proc in procs:
            await stop_app(proc)


async def _reply_for(slack: FakeSlack, key: str) -> str | None:
    for call in slack.responses:
        if call.method == f"response_url/{key}" and "closed" in str(call.args.get("text")):
            return str(call.args["text"])
    return None
