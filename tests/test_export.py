"""`/bot export`: two CSV files posted in the channel that read back to exactly what is stored."""

from __future__ import annotations

import csv
import io

import asyncpg

from bot.metrics.export import ENCODING, RESULT_HEADER, VOTE_HEADER, read_results_csv
from storage.stats import RESULT_COLUMNS
from tests.slack_driver import CHANNEL, OTHER_TEAM, TEAM, SlackDriver
from tests.test_stats import OPEN_TEST_THREAD, add_result, seed_support, version_ids


async def stored(pool: asyncpg.Pool, team: str = TEAM) -> list[dict[str, object]]:
    columns = ", ".join(f"r.{c}" for c in RESULT_COLUMNS)
    rows = await pool.fetch(
        f"""
        SELECT p.name AS profile, v.version, {columns}
        FROM test_results r
        JOIN profile_versions v ON v.id = r.profile_version_id
        JOIN profiles p ON p.id = v.profile_id
        WHERE r.team_id = $1 AND r.created_at >= now() - interval '30 days'
          AND r.thread_ts IS DISTINCT FROM $2  -- an answer of a test still open: left out
        ORDER BY r.created_at, r.id
        """,
        team,
        OPEN_TEST_THREAD,
    )
    return [dict(r) for r in rows]


def files(driver: SlackDriver) -> dict[str, bytes]:
    return {name: data for name, data, _ in driver.slack.files_posted()}


async def add_votes(driver: SlackDriver, v: dict[int, int], *, status: str = "closed") -> int:
    ab_id: int = await driver.pool.fetchval(
        """
        INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, status)
        VALUES ($1, $2, $3, 'U0001', 'C0001', $4) RETURNING id
        """,
        TEAM,
        v[1],
        v[2],
        status,
    )
    message_id = await driver.pool.fetchval(
        """
        INSERT INTO ab_messages (team_id, ab_test_id, position, message, a_first)
        VALUES ($1, $2, 0, '=cmd|'' /C calc''!A0', false) RETURNING id
        """,
        TEAM,
        ab_id,
    )
    for user, choice in (("U1", "b"), ("U2", "tie"), ("U3", "a")):
        await driver.pool.execute(
            "INSERT INTO ab_votes (team_id, ab_message_id, user_id, choice)"
            " VALUES ($1, $2, $3, $4)",
            TEAM,
            message_id,
            user,
            choice,
        )
    return ab_id


async def test_results_csv_round_trips(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    # text a spreadsheet would run, quotes, newlines, commas and non-ASCII must all survive
    await add_result(
        driver.pool, v[2], question='=HYPERLINK("http://x","y")', answer='a, b\n"c" — ünï 👍'
    )
    await add_result(driver.pool, v[2], question="'quoted", answer="")
    await add_result(driver.pool, v[2], question="-1 + 2", answer="@here")
    await add_votes(driver, v)
    text = await driver.reply_text("export")
    assert text.startswith("Posted `romashka-results-workspace-30d-")
    assert "(10 answers)" in text and "(3 votes)" in text
    posted = files(driver)
    [results_name] = [n for n in posted if n.startswith("romashka-results-")]
    raw = posted[results_name]
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    header = next(csv.reader(io.StringIO(raw.decode(ENCODING))))
    assert tuple(header) == RESULT_HEADER
    # every stored field, profile and version named, read back equal to the database rows
    assert read_results_csv(raw) == await stored(driver.pool)
    # and the dangerous cell is inert in a spreadsheet
    cells = list(csv.reader(io.StringIO(raw.decode(ENCODING))))
    assert '\'=HYPERLINK("http://x","y")' in [row[header.index("question")] for row in cells]
    [(_, _, complete)] = [p for p in driver.slack.files_posted() if p[0] == results_name]
    assert complete["channel_id"] == CHANNEL
    assert "10 answers and 3 A/B votes" in complete["initial_comment"]


async def test_every_column_of_test_results_is_exported(pool: asyncpg.Pool) -> None:
    columns = await pool.fetch(
        """
        SELECT column_name FROM information_schema.columns
        WHERE table_name = 'test_results' ORDER BY ordinal_position
        """
    )
    assert sorted(RESULT_COLUMNS) == sorted(r["column_name"] for r in columns)


async def test_votes_csv(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    await add_votes(driver, v)
    await driver.reply_text("export Support")
    posted = files(driver)
    [votes_name] = [n for n in posted if n.startswith("romashka-ab-votes-Support-30d-")]
    rows = list(csv.DictReader(io.StringIO(posted[votes_name].decode(ENCODING))))
    assert tuple(rows[0]) == VOTE_HEADER
    assert [(r["user_id"], r["choice"], r["preferred"]) for r in rows] == [
        ("U1", "b", "Support v2"),
        ("U2", "tie", "tie"),
        ("U3", "a", "Support v1"),
    ]
    assert {r["reply_1_was"] for r in rows} == {"B"}
    assert {r["message"] for r in rows} == {"'=cmd|' /C calc'!A0"}


async def test_votes_of_a_test_still_open_are_left_out(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    closed = await add_votes(driver, v)
    still_open = await add_votes(driver, v, status="open")
    text = await driver.reply_text("export Support")
    assert "(3 votes)" in text
    # seed_support leaves two tests open as well
    assert "3 A/B tests still open (#" in text
    assert f", #{still_open}) are left out, answers and votes, until voting closes" in text
    [votes_name] = [n for n in files(driver) if n.startswith("romashka-ab-votes-")]
    rows = list(csv.DictReader(io.StringIO(files(driver)[votes_name].decode(ENCODING))))
    assert {r["ab_test_id"] for r in rows} == {str(closed)}


async def test_a_profile_and_a_period(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.reply_text("new Sales")
    sales = await version_ids(driver.pool, "Sales")
    await add_result(driver.pool, sales[1], question="Sales question")
    await add_result(driver.pool, sales[1], question="Old sales question", days_ago=5)
    text = await driver.reply_text("export Sales --days 2")
    assert "(1 answer)" in text and "(0 votes)" in text
    [results_name] = [n for n in files(driver) if n.startswith("romashka-results-Sales-2d-")]
    [row] = read_results_csv(files(driver)[results_name])
    assert (row["profile"], row["version"], row["question"]) == ("Sales", 1, "Sales question")


async def test_export_never_crosses_workspaces(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.reply_text("new Support", team=OTHER_TEAM)
    other = await version_ids(driver.pool, "Support", team=OTHER_TEAM)
    await add_result(driver.pool, other[1], team=OTHER_TEAM, question="theirs")
    await driver.reply_text("export", team=OTHER_TEAM)
    [results_name] = [n for n in files(driver) if n.startswith("romashka-results-")]
    rows = read_results_csv(files(driver)[results_name])
    assert [(r["team_id"], r["question"]) for r in rows] == [(OTHER_TEAM, "theirs")]


async def test_nothing_to_export(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    text = await driver.reply_text("export --days 1")
    assert text == "Nothing to export: this workspace has no answers or A/B votes in the last day."
    assert driver.slack.of("files.getUploadURLExternal") == []


async def test_bad_export_input(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "There is no profile named *Nope*" in await driver.reply_text("export Nope")
    assert "(not `abc`)" in await driver.reply_text("export --days abc")
    assert "I don't know the option `--chart`" in await driver.reply_text("export --chart")


async def test_export_not_in_channel(driver: SlackDriver) -> None:
    await seed_support(driver)
    driver.slack.fail_next("files.completeUploadExternal", error="not_in_channel")
    assert "I'm not in this channel" in await driver.reply_text("export")
