"""The "Judge wrong" buttons on a scenario answer's verdicts, through the real app: one flag per
person per verdict, undone by a second click, scoped by workspace, and counted in `/bot stats`,
the App Home and the next thread posts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.metrics import judge_report, judges
from bot.metrics.judges import Judge
from tests.slack_driver import OTHER_TEAM, TEAM, SlackDriver
from tests.test_home import open_home
from tests.test_run_takeover import thread_posts
from tests.test_scenarios import posted, run_done
from tests.test_stats import add_result, rate, version_ids


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


async def test_flag_undo_count_and_show(live: SlackDriver, monkeypatch: pytest.MonkeyPatch) -> None:
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
    shown = json.dumps(first["blocks"], ensure_ascii=False)
    assert "Behaviours judge: not enough labels to rate the judge (" in shown
    # the alignment is the traits judge's verdict: its standing is shown with it
    assert "Traits judge: not enough labels to rate the judge (0 of 20)" in shown
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
    assert "not enough labels to rate the judge (9 verdicts given, 20 needed)" in stats
    assert "Traits judge*: not enough labels to rate the judge (0 of 20)" in stats
    home = json.dumps(await open_home(live), ensure_ascii=False)
    assert "How far the judges agree with your team" in home

    # two more runs: 27 verdicts, 1 flagged. Each process keeps the figure for a minute, so
    # /bot stats still shows the 9 it read; read fresh, it shows the 27
    for _ in range(2):
        await live.command("scenario run Billing questions")
    await run_done(live.pool, count=3)
    await posted(live.pool)
    assert "(9 verdicts given, 20 needed)" in await stats_of(live)
    monkeypatch.setattr(judge_report, "CACHE_S", 0.0)
    stats = await stats_of(live)
    assert "people flagged 1 of 27 verdicts as wrong: 4% (1%–18%)" in stats


async def test_traits_labels_counted_in_sql_match_the_mapping(driver: SlackDriver) -> None:
    """The SQL count per (on target, liked) gives the κ the pure mapping gives, and another
    workspace's ratings, A/B replies and split ratings give no label."""
    await driver.reply_text("new Support")
    [vid] = (await version_ids(driver.pool, "Support")).values()
    answers = [(90.0, 2, 0), (75.0, 1, 0), (40.0, 0, 3), (95.0, 0, 1), (50.0, 1, 1)] * 5
    for n, (alignment, up, down) in enumerate(answers):
        rid = await add_result(driver.pool, vid, alignment=alignment)
        for i in range(up):
            await rate(driver.pool, rid, f"U{n}u{i}", 1)
        for i in range(down):
            await rate(driver.pool, rid, f"U{n}d{i}", -1)
    ab = await add_result(driver.pool, vid, kind="ab", alignment=10.0)
    await rate(driver.pool, ab, "U9", 1)
    found = await judge_report.one(driver.pool, team_id=TEAM, judge=Judge.TRAITS)
    assert found == judges.traits(answers)
    assert found.labels == 20 and found.kappa is not None and found.kappa.value is not None
    assert await judge_report.one(driver.pool, team_id=OTHER_TEAM, judge=Judge.TRAITS) == (
        judges.traits([])
    )
