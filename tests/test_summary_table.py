"""A run's summary leads with a table block; a workspace that refuses tables (invalid_blocks)
gets today's layout, the same edit without the table, as `/bot stats` does."""

from __future__ import annotations

from tests.slack_driver import SlackDriver
from tests.test_run_takeover import summaries
from tests.test_scenarios import posted, run_done


async def test_the_summary_has_a_table(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    [shown] = summaries(live)
    assert shown["ts"] == run["parent_ts"]
    [table] = [b for b in shown["blocks"] if b["type"] == "table"]
    names = [row[0]["text"] for row in table["rows"]]
    assert names[0] == "Scenario" and names[-1] == "Overall" and len(names) >= 3


async def test_a_workspace_without_tables_gets_the_summary_without_one(
    live: SlackDriver,
) -> None:
    live.slack.unsupported_blocks.add("table")
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    refused = [
        c
        for c in live.slack.of("chat.update")
        if c.args["ts"] == run["parent_ts"] and not c.response.get("ok")
    ]
    assert len(refused) == 1 and refused[0].response["error"] == "invalid_blocks"
    [shown] = summaries(live)  # the edit Slack took
    assert shown["ts"] == run["parent_ts"]
    assert all(b["type"] != "table" for b in shown["blocks"])
    assert [b["type"] for b in shown["blocks"]] == [
        b["type"] for b in refused[0].args["blocks"] if b["type"] != "table"
    ]
