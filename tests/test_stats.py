"""`/bot stats` end to end: figures per version checked against values worked out by hand on a
small fixed data set inserted with SQL, the comparison arrows, empty and single-answer periods,
workspace isolation, Slack's block limit and bad input."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from bot import ids, limits
from bot.metrics.versions import compare
from storage import stats as repo
from tests.slack_driver import OTHER_TEAM, TEAM, SlackDriver

B_PREFERRED = "b_preferred"
UNDECIDED = "undecided"
# the thread of the A/B test `seed_support` leaves open, and of its one answer
OPEN_TEST_THREAD = "1700000000.000001"


async def version_ids(pool: asyncpg.Pool, name: str, team: str = TEAM) -> dict[int, int]:
    rows = await pool.fetch(
        """
        SELECT v.version, v.id FROM profile_versions v
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE v.team_id = $1 AND p.name = $2
        """,
        team,
        name,
    )
    return {r["version"]: r["id"] for r in rows}


async def profile_id(pool: asyncpg.Pool, name: str, team: str = TEAM) -> int:
    found: int = await pool.fetchval(
        "SELECT id FROM profiles WHERE team_id = $1 AND name = $2", team, name
    )
    return found


async def add_result(
    pool: asyncpg.Pool,
    version_id: int,
    *,
    team: str = TEAM,
    kind: str = "test",
    total_ms: float | None = None,
    ttft_ms: float | None = None,
    alignment: float | None = None,
    perceived: dict[str, int] | None = None,
    tokens: tuple[int, int] | None = None,
    error_kind: str | None = None,
    days_ago: float = 0.0,
    behaviours: list[dict[str, Any]] | None = None,
    question: str = "How do I cancel?",
    answer: str = "Like this.",
    thread_ts: str | None = None,
) -> int:
    analysis = (
        {"alignment": alignment, "traits": {t: {"perceived": v} for t, v in perceived.items()}}
        if perceived
        else None
    )
    result_id: int = await pool.fetchval(
        """
        INSERT INTO test_results (
            team_id, profile_version_id, kind, user_id, question, answer, total_ms, ttft_ms,
            alignment, analysis, prompt_tokens, completion_tokens, error_kind, behaviour_results,
            channel_id, created_at, thread_ts
        ) VALUES ($1, $2, $3, 'U0001', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'C0001',
                  now() - make_interval(secs => $14), $15)
        RETURNING id
        """,
        team,
        version_id,
        kind,
        question,
        answer,
        total_ms,
        ttft_ms,
        alignment,
        analysis,
        tokens[0] if tokens else None,
        tokens[1] if tokens else None,
        error_kind,
        behaviours,
        days_ago * 86400.0,
        thread_ts,
    )
    return result_id


async def rate(pool: asyncpg.Pool, result_id: int, user: str, rating: int) -> None:
    await pool.execute(
        "INSERT INTO result_feedback (team_id, result_id, user_id, rating) VALUES ($1, $2, $3, $4)",
        TEAM,
        result_id,
        user,
        rating,
    )


async def closed_ab(
    pool: asyncpg.Pool,
    a: int,
    b: int,
    code: str,
    *,
    status: str = "closed",
    parent_ts: str | None = None,
) -> int:
    """A test with a stored verdict code. Its stored wording is deliberately not the current
    one: the A/B record must count the code, never match display text."""
    ab_id: int = await pool.fetchval(
        """
        INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, status,
                              closed_at, verdict, verdict_code, parent_ts)
        VALUES ($1, $2, $3, 'U0001', 'C0001', $4, CASE WHEN $4 = 'closed' THEN now() END, $5,
                CASE WHEN $4 = 'closed' THEN $6 END, $7)
        RETURNING id
        """,
        TEAM,
        a,
        b,
        status,
        {"per_person": {"recommendation": f"(old wording of {code})"}}
        if status == "closed"
        else None,
        code,
        parent_ts,
    )
    return ab_id


async def seed_support(driver: SlackDriver) -> dict[int, int]:
    """Support v1 (all traits 50) and v2 (formality 80) with answers worked out by hand below."""
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    v = await version_ids(driver.pool, "Support")
    pool = driver.pool
    # v1: three good tests, one failed, one 40 days old (outside the default period)
    r1 = await add_result(
        pool, v[1], total_ms=1000, ttft_ms=100, alignment=80, tokens=(10, 20),
        perceived={"formality": 60, "enthusiasm": 50, "technical_depth": 40, "empathy": 70},
    )  # fmt: skip
    r2 = await add_result(
        pool, v[1], total_ms=2000, ttft_ms=200, alignment=90, tokens=(10, 20),
        perceived={"formality": 40, "enthusiasm": 56, "technical_depth": 40, "empathy": 50},
    )  # fmt: skip
    await add_result(pool, v[1], kind="followup", total_ms=3000, ttft_ms=300)
    await add_result(pool, v[1], total_ms=9000, error_kind="timeout", tokens=(5, 0))
    await add_result(pool, v[1], total_ms=100_000, ttft_ms=50_000, days_ago=40)
    await rate(pool, r1, "U1", 1)
    await rate(pool, r1, "U2", -1)
    await rate(pool, r2, "U1", 1)
    # v2: quicker, better aligned, one scenario answer with three verdicts (one not judged)
    r3 = await add_result(
        pool, v[2], total_ms=500, ttft_ms=50, alignment=95, tokens=(100, 200),
        perceived={"formality": 90, "enthusiasm": 50, "technical_depth": 50, "empathy": 50},
    )  # fmt: skip
    await add_result(
        pool, v[2], kind="scenario", total_ms=1500, ttft_ms=150,
        behaviours=[
            {"behaviour": "polite", "score": 90, "passed": True, "reason": "ok"},
            {"behaviour": "brief", "score": 20, "passed": False, "reason": "long"},
            {"behaviour": "cites", "score": None, "passed": None, "reason": "judge failed"},
        ],
    )  # fmt: skip
    await add_result(pool, v[2], kind="ab", total_ms=700, ttft_ms=70)
    await rate(pool, r3, "U1", 1)
    await closed_ab(pool, v[1], v[2], B_PREFERRED)
    await closed_ab(pool, v[2], v[1], UNDECIDED)
    await closed_ab(pool, v[1], v[2], B_PREFERRED, status="open")  # not closed: not counted
    # an answer of a test still open for votes is counted nowhere until it closes: a version's
    # figures would tell voters which reply is whose (here, which one failed)
    await closed_ab(pool, v[1], v[2], B_PREFERRED, status="open", parent_ts=OPEN_TEST_THREAD)
    await add_result(
        pool, v[1], kind="ab", total_ms=1, error_kind="timeout", thread_ts=OPEN_TEST_THREAD
    )
    return v


async def test_figures_match_hand_computed_values(driver: SlackDriver) -> None:
    await seed_support(driver)
    pid = await profile_id(driver.pool, "Support")
    v2, v1 = await repo.version_stats(driver.pool, team_id=TEAM, profile_id=pid, days=30)

    assert (v1.version, v2.version) == (1, 2)
    assert v1.answers == {"test": 3, "followup": 1, "scenario": 0, "ab": 0}
    assert v1.failed == 1
    # the failed answer's 9 s is left out: times of 1, 2 and 3 s
    assert v1.median_ms == 2000
    assert v1.p95_ms == pytest.approx(2900)  # 2000 + 0.9 × (3000 − 2000)
    assert v1.median_ttft_ms == 200 and v1.p95_ttft_ms == pytest.approx(290)
    assert v1.alignment == pytest.approx(85) and v1.aligned == 2
    # perceived − target (50): formality +10 and −10, enthusiasm 0 and +6, depth −10 twice,
    # empathy +20 and 0
    assert v1.trait_gaps == pytest.approx(
        {"formality": 0.0, "enthusiasm": 3.0, "technical_depth": -10.0, "empathy": 10.0}
    )
    assert (v1.thumbs_up, v1.thumbs_down) == (2, 1)
    assert v1.satisfaction == pytest.approx(2 / 3)
    assert v1.tokens == 60 and v1.tokens_per_answer == 30  # the failed answer's 5 left out
    assert v1.pass_rate is None and v1.behaviours_judged == 0
    assert (v1.ab_won, v1.ab_lost, v1.ab_inconclusive) == (0, 1, 1)

    assert v2.answers == {"test": 1, "followup": 0, "scenario": 1, "ab": 1}
    assert v2.median_ms == 700 and v2.p95_ms == pytest.approx(1420)  # 700 + 0.9 × 800
    assert v2.alignment == 95
    assert v2.trait_gaps["formality"] == 10  # perceived 90 against v2's target of 80
    assert (v2.behaviours_passed, v2.behaviours_judged) == (1, 2)
    assert (v2.ab_won, v2.ab_lost, v2.ab_inconclusive) == (1, 0, 1)
    assert v2.satisfaction == 1.0 and v2.rated == 1
    assert v2.tokens == 300

    [c2, c1] = compare([v2, v1])
    assert c1.previous is None and all(a is None for a in c1.arrows.values())
    assert c2.previous == v1
    assert c2.arrow("median_ms") == "▼" and c2.arrow("alignment") == "▲"
    assert c2.arrow("satisfaction") == "▲" and c2.arrow("answers") == "▼"
    assert c2.arrow("gap_formality") == "▲" and c2.arrow("gap_technical_depth") == "▲"
    assert c2.arrow("pass_rate") is None  # v1 ran no scenario: nothing to compare with


async def test_a_longer_period_takes_in_older_answers(driver: SlackDriver) -> None:
    await seed_support(driver)
    pid = await profile_id(driver.pool, "Support")
    _, v1 = await repo.version_stats(driver.pool, team_id=TEAM, profile_id=pid, days=60)
    assert v1.answers["test"] == 4
    assert v1.median_ms == 2500  # 1, 2, 3 and 100 s


async def test_stats_message_through_slack(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.command("stats Support")
    reply = await driver.next_reply()
    blocks = reply["blocks"]
    assert blocks[0]["text"]["text"] == "Stats: Support, the last 30 days"
    explanation = blocks[1]["elements"][0]["text"]
    assert "Trait gap = mean of (perceived − target)" in explanation
    v2, v1 = [b for b in blocks if b["type"] == "section"]
    assert v2["text"]["text"].startswith("*v2*") and "compared with v1" in v2["text"]["text"]
    assert "no earlier version used in the period" in v1["text"]["text"]
    f2 = [f["text"] for f in v2["fields"]]
    f1 = [f["text"] for f in v1["fields"]]
    assert len(f2) <= limits.SECTION_FIELDS
    assert f1[0] == "*Answers*\n4\ntests 3 · follow-ups 1 · scenario 0 · A/B 0 · 1 failed"
    assert f2[0] == "*Answers*\n3 ▼\ntests 1 · follow-ups 0 · scenario 1 · A/B 1"
    assert f1[1] == "*Response time*\nmedian 2.00 s · p95 2.90 s"
    assert f2[1] == "*Response time*\nmedian 700 ms ▼ · p95 1.42 s ▼"
    assert f2[3] == "*Alignment*\n95.0/100 ▲ (1 judged)"
    assert "Formality +10.0 ▲" in f2[4] and "Technical depth −10.0" in f1[4]
    assert f1[5] == "*Satisfaction*\n67% 👍 of 3 ratings"
    assert f2[5] == "*Satisfaction*\n100% 👍 ▲ of 1 rating"
    assert f1[6] == "*Behaviours* (scenario runs)\nn/a"  # never 0 when nothing was judged
    assert f2[6] == "*Behaviours* (scenario runs)\n1/2 passed (50%)"
    assert f2[7] == "*A/B record*\n1 won · 0 lost · 1 inconclusive ▲"
    assert f1[7] == "*A/B record*\n0 won · 1 lost · 1 inconclusive"
    assert f2[8] == "*Tokens*\n300 (≈300 per answer ▲)"  # one metered answer
    chart = blocks[-1]["elements"][0]
    assert chart["action_id"] == ids.STATS_CHART
    assert json.loads(chart["value"]) == {"p": await profile_id(driver.pool, "Support"), "d": 30}
    # the same figures side by side in Slack's table block, newest first
    [table] = [b for b in blocks if b["type"] == "table"]
    rows = [[cell["text"] for cell in row] for row in table["rows"]]
    assert rows == [
        [
            "Version",
            "Answers",
            "Median",
            "p95",
            "Alignment",
            "Satisfaction",
            "Pass rate",
            "Tokens/answer",
        ],
        ["v2", "3", "700 ms", "1.42 s", "95.0", "100%", "50%", "300"],
        ["v1", "4", "2.00 s", "2.90 s", rows[2][4], "67%", "n/a", rows[2][7]],
    ]


async def test_stats_without_tables_keeps_todays_message(driver: SlackDriver) -> None:
    await seed_support(driver)
    driver.slack.unsupported_blocks.add("table")
    await driver.command("stats Support")
    refused = await driver.next_reply()
    assert any(b["type"] == "table" for b in refused["blocks"])
    shown = await driver.next_reply()
    assert [b["type"] for b in shown["blocks"]] == [
        b["type"] for b in refused["blocks"] if b["type"] != "table"
    ]
    assert shown["blocks"][0]["text"]["text"] == "Stats: Support, the last 30 days"


async def test_empty_period_says_so(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    v = await version_ids(driver.pool, "Support")
    await add_result(driver.pool, v[1], total_ms=1000, days_ago=10)
    text = await driver.reply_text("stats --days 7")
    assert text.startswith("No answers from *Support* in the last 7 days")
    assert "0" not in text.split(":")[0]


async def test_a_single_answer_shows_na_not_zero(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    v = await version_ids(driver.pool, "Support")
    await add_result(driver.pool, v[1], total_ms=1234)
    await driver.command("stats")
    fields = [
        f["text"] for f in next(b for b in (await driver.next_reply())["blocks"] if "fields" in b)[
            "fields"
        ]
    ]  # fmt: skip
    assert fields[1] == "*Response time*\nmedian 1.23 s · p95 1.23 s"
    assert fields[2] == "*First token*\nmedian n/a · p95 n/a"
    assert fields[3] == "*Alignment*\nn/a"
    assert fields[4].count("n/a") == 4
    assert fields[5] == "*Satisfaction*\nn/a"
    assert fields[7] == "*A/B record*\nn/a"
    assert fields[8] == "*Tokens*\nn/a"


async def test_other_workspaces_data_never_shows(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.reply_text("new Support", team=OTHER_TEAM)
    other = await version_ids(driver.pool, "Support", team=OTHER_TEAM)
    await add_result(driver.pool, other[1], team=OTHER_TEAM, total_ms=42)
    await driver.command("stats Support", team=OTHER_TEAM)
    blocks = (await driver.next_reply())["blocks"]
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 1
    assert sections[0]["fields"][0]["text"].startswith("*Answers*\n1\n")
    assert "median 42 ms" in sections[0]["fields"][1]["text"]
    # and ids from one workspace resolve to nothing in another
    mine = await profile_id(driver.pool, "Support")
    assert await repo.version_stats(driver.pool, team_id=OTHER_TEAM, profile_id=mine, days=30) == []


async def test_many_versions_stay_within_the_block_limit(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    pid = await profile_id(driver.pool, "Support")
    for n in range(2, 71):
        await driver.pool.execute(
            """
            INSERT INTO profile_versions (team_id, profile_id, version, bot_name, avatar_emoji,
                formality, enthusiasm, technical_depth, empathy, response_style, created_by)
            VALUES ($1, $2, $3, 'Bot', ':robot_face:', 50, 50, 50, 50, 'concise', 'U0001')
            """,
            TEAM,
            pid,
            n,
        )
    for vid in (await version_ids(driver.pool, "Support")).values():
        await add_result(driver.pool, vid, total_ms=1000)
    await driver.command("stats")
    blocks = (await driver.next_reply())["blocks"]
    assert len(blocks) <= limits.BLOCKS_PER_MESSAGE
    sections = [b for b in blocks if b["type"] == "section"]
    assert sections[0]["text"]["text"].startswith("*v70*")
    note = blocks[-2]["elements"][0]["text"]
    assert note.startswith(f"…and {70 - len(sections)} older versions not shown (v1–v")
    assert "70 versions used" in blocks[1]["elements"][0]["text"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("stats --days 0", "from 1 to 365 (not `0`)"),
        ("stats --days abc", "from 1 to 365 (not `abc`)"),
        ("stats --days 366", "from 1 to 365 (not `366`)"),
        ("stats --days -3", "from 1 to 365 (not `-3`)"),
        ("stats --days", "`--days` takes a whole number of days from 1 to 365, e.g."),
        ("stats --days=2.5", "(not `2.5`)"),
        ("stats --weeks 2", "I don't know the option `--weeks`"),
        ("stats Support Sales", "Usage: `/bot stats [profile] [--days N] [--chart]`"),
        ("stats Nope", "There is no profile named *Nope* in this workspace"),
    ],
)
async def test_bad_input_gets_a_clear_message(
    driver: SlackDriver, text: str, fragment: str
) -> None:
    await driver.reply_text("new Support")
    assert fragment in await driver.reply_text(text)


async def test_no_profile_at_all(driver: SlackDriver) -> None:
    assert "has no bot profile yet" in await driver.reply_text("stats")


async def test_options_in_any_order(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    v = await version_ids(driver.pool, "Support")
    await add_result(driver.pool, v[1], total_ms=1000, days_ago=3)
    for text in ("stats --days 5 Support", "stats @Support --days=5", "stats Support --days 5"):
        reply = await driver.command(text)
        assert reply.status == 200
        blocks = (await driver.next_reply())["blocks"]
        assert blocks[0]["text"]["text"] == "Stats: Support, the last 5 days"


async def test_cut_answers_and_judge_failures_are_counted_per_version(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    v = await version_ids(driver.pool, "Support")
    rows: list[tuple[int, str | None, dict[str, str] | None]] = [
        (v[1], "length", {"traits": "ok", "behaviours": "timeout"}),
        (v[1], "length", {"traits": "cut"}),
        (v[1], "stop", {"traits": "ok", "behaviours": "ok"}),
        (v[1], None, None),  # an answer whose judging never ran
        (v[2], "stop", {"traits": "ok"}),
    ]
    for version_id, finish, outcomes in rows:
        await driver.pool.execute(
            """
            INSERT INTO test_results (team_id, profile_version_id, kind, user_id, question,
                                      answer, finish_reason, judge_outcomes)
            VALUES ($1, $2, 'scenario', 'U0001', 'q', 'a', $3, $4)
            """,
            TEAM,
            version_id,
            finish,
            outcomes,
        )
    pid = await profile_id(driver.pool, "Support")
    s2, s1 = await repo.version_stats(driver.pool, team_id=TEAM, profile_id=pid, days=30)
    assert (s1.cut_off, s1.judge_unavailable) == (2, 2)
    assert (s2.cut_off, s2.judge_unavailable) == (0, 0)

    await driver.command("stats Support")
    reply = await driver.next_reply()
    v2_section, v1_section = [b for b in reply["blocks"] if b["type"] == "section"]
    assert v1_section["fields"][0]["text"] == (
        "*Answers*\n4\ntests 0 · follow-ups 0 · scenario 4 · A/B 0 · 2 cut at the length limit"
        " · judge unavailable 2 times"
    )
    assert "cut" not in v2_section["fields"][0]["text"]
    assert "judge unavailable" not in v2_section["fields"][0]["text"]
