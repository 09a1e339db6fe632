"""The "Judge wrong" buttons on a scenario answer's verdicts, through the real app: one flag per
person per verdict, undone by a second click, scoped by workspace, and counted in `/bot stats`,
the App Home and the next thread posts."""

from __future__ import annotations

import json
from typing import Any

from bot import ids
from tests.slack_driver import OTHER_TEAM, SlackDriver
from tests.test_home import open_home
from tests.test_run_takeover import thread_posts
from tests.test_scenarios import posted, run_done


async def stats_of(live: SlackDriver) -> str:
    await live.command("stats Support")
    return json.dumps((await live.next_reply()).get("blocks"), ensure_ascii=False)


def flag_buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for b in post.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
        if ids.JUDGE_WRONG_PATTERN.match(e["action_id"])
    ]


async def test_flag_undo_count_and_show(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    posts = thread_posts(live, run["parent_ts"])
    assert len(posts) == 3
    # 3 behaviours judged on each answer, each with its button, and the judge's standing
    first = posts[0]
    buttons = flag_buttons(first)
    assert len(buttons) == 3
    assert "not enough labels to rate the judge" in json.dumps(first["blocks"])
    button = buttons[0]
    behaviour = button["text"]["text"].removeprefix("Judge wrong: ")

    async def click(user: str | None = None, team: str | None = None) -> str:
        extra: dict[str, Any] = {} if team is None else {"team": team}
        await live.click(button["action_id"], button["value"], user=user, **extra)
        return str((await live.next_reply())["text"])

    assert "Recorded: you think the judge was wrong" in await click()
    rows = await live.pool.fetch("SELECT * FROM judge_flags")
    assert [(r["behaviour"], r["judged_passed"]) for r in rows] == [(behaviour, True)]
    assert "(1 other person too)" in await click(user="U0003")
    assert await live.pool.fetchval("SELECT count(*) FROM judge_flags") == 2
    # a second click takes it back; a third flags again: one row per person at most
    assert "Taken back" in await click()
    assert "Recorded" in await click()
    assert await live.pool.fetchval("SELECT count(*) FROM judge_flags") == 2
    # another workspace cannot flag this workspace's answer
    assert "no longer there" in await click(team=OTHER_TEAM)
    assert await live.pool.fetchval("SELECT count(*) FROM judge_flags") == 2
    # a forged index is refused, nothing stored
    await live.click(
        button["action_id"], json.dumps({"r": json.loads(button["value"])["r"], "b": 9})
    )
    assert "no longer there" in str((await live.next_reply())["text"])

    # one of 9 posted verdicts flagged (two people, one verdict): shown where the judges are
    stats = await stats_of(live)
    assert "Behaviours judge" in stats
    assert "not enough labels to rate the judge (9 verdicts posted, 20 needed)" in stats
    assert "Traits judge*: not enough labels to rate the judge (0 of 20)" in stats
    home = json.dumps(await open_home(live), ensure_ascii=False)
    assert "How far the judges agree with your team" in home

    # a second run: 18 verdicts, still below 20; a third: 27 posted, 1 flagged
    for _ in range(2):
        await live.command("scenario run Billing questions")
    await run_done(live.pool, count=3)
    await posted(live.pool)
    stats = await stats_of(live)
    assert "people flagged 1 of 27 verdicts as wrong: 4% (1%–18%)" in stats
